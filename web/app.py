"""FastAPI application factory: `create_app(data_dir, workers)`.

Routers stay thin: every decision is made by the fabricate library.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Optional

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from fabricate import __version__
from fabricate.hub import HubConfig
from fabricate.jobs import JobRunner, JobStore, default_data_dir

WEB_DIR = Path(__file__).resolve().parent
log = logging.getLogger("fabricate.web")


def create_app(data_dir=None, workers: int = 1, max_upload_mb: float = 25.0,
               hub_config: Optional[HubConfig] = None) -> FastAPI:
    """The web app with its job store in ``data_dir`` and ``workers`` build processes.

    Parameters
    ----------
    data_dir
        Folder for jobs and their files (default: the user's data folder).
    workers
        Jobs built at the same time; more wait in a queue.
    max_upload_mb
        Largest photo accepted.
    hub_config
        Hub for sharing (default: from the environment or ~/.config/fabricate/hub.toml).
    """
    from web.routers import api, pages

    store = JobStore(data_dir or default_data_dir())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        runner = JobRunner(store, workers)
        app.state.runner = runner
        runner.resume()
        yield
        runner.shutdown()

    app = FastAPI(title="fabricate", version=__version__, lifespan=lifespan,
                  description="Photo to watertight, coloured, print-ready 3MF. Jobs run in the background; "
                              "follow them with GET /api/jobs/{id} or its Server-Sent Events stream.")
    app.state.store = store
    app.state.max_upload_bytes = int(max_upload_mb * 1024 * 1024)
    app.state.hub_config = hub_config if hub_config is not None else HubConfig.load()
    app.state.templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"detail": f"internal error ({type(exc).__name__})"}, status_code=500)

    return app


@contextlib.contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1"):
    """Serve ``app`` with uvicorn on a free port in a background thread; yields its base URL.

    For tests and benchmarks that need the real HTTP server, not a test client.
    """
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("the web app did not start")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
