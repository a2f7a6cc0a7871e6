"""FastAPI application factory: `create_app(data_dir, workers)`.

Routers stay thin: every decision is made by the fabricate library, and its errors
become HTTP answers here, by type (each FabricateError carries its own status).
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES

from fabricate import __version__
from fabricate.errors import FabricateError
from fabricate.hub import HubConfig
from fabricate.jobs import JobRunner, default_data_dir, open_job_store
from fabricate.jobs.celery_runner import CeleryJobRunner, redis_url_ok
from fabricate.options import MAX_PHOTOS, describe_default
from fabricate.schema import check_options, option
from web.security import RequestGuard, allowed_host_names
from web.uploads import PhotoDecodeSlots, request_body_limit

WEB_DIR = Path(__file__).resolve().parent
log = logging.getLogger("fabricate.web")
#: What a field of each type must be, in words, when Pydantic cannot read it as that type.
TYPE_WORDS = {"int": "a whole number", "float": "a number", "bool": "yes or no (true or false)"}
#: The largest photo a server may be told to accept (photos are at most 40 megapixels anyway).
MAX_UPLOAD_MB = 1024.0
#: Responses smaller than this go uncompressed (the gain would not pay for the work).
COMPRESS_FROM_BYTES = 1024


@dataclass(kw_only=True)
class ServerOptions:
    """The server's own numbers (`fabricate serve` flags), checked like job options: finite and in range."""

    workers: int = option(1, minimum=1, maximum=16, help="Builds at the same time.")
    max_upload_mb: float = option(25.0, minimum=0.0, exclusive_minimum=True, maximum=MAX_UPLOAD_MB, unit="MB",
                                  help="Largest photo accepted.")


def create_app(data_dir=None, workers: int = ServerOptions.workers, max_upload_mb: float = ServerOptions.max_upload_mb,
               hub_config: Optional[HubConfig] = None, allowed_hosts: Iterable[str] = (),
               broker: Optional[str] = None) -> FastAPI:
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
    allowed_hosts
        Names the server answers to besides the loopback names (`serve --host` and `--allow-host`).
    broker
        A Redis URL: jobs go to `fabricate worker`s through it instead of ``workers`` local
        processes, and the job records live in that Redis (the workers share only ``data_dir``'s files).

    Raises
    ------
    BadOption
        A server option that is not finite or out of range, or a host name that is not one;
        checked before anything starts.
    """
    from web.routers import docs, edits, jobs, pages, photos, printers, shares

    settings = ServerOptions(workers=workers, max_upload_mb=max_upload_mb)
    check_options(settings)
    host_names = allowed_host_names(allowed_hosts)
    max_upload_bytes = int(settings.max_upload_mb * 1024 * 1024)
    redis_url_ok(broker)
    # With a broker the job records live in its Redis (workers on other machines reach them), else in SQLite.
    store = open_job_store(data_dir or default_data_dir(), broker)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        # The one place the runner is chosen: Celery workers through a broker, else the local pool.
        runner = CeleryJobRunner(store, broker) if broker else JobRunner(store, settings.workers)
        app.state.runner = runner
        runner.resume()
        yield
        runner.shutdown()

    # docs_url/redoc_url off: web/routers/docs.py serves the same pages from local files (offline).
    app = FastAPI(title="fabricate", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Photos to watertight, coloured, print-ready 3MF. Jobs run in the background; "
                              "follow them with GET /api/jobs/{id} or its Server-Sent Events stream.")
    # The routes that take photos, and how many; every other request body is small (JSON, or nothing).
    photo_routes = {jobs.router.prefix: MAX_PHOTOS, photos.router.prefix + "/outline": 1}
    app.add_middleware(RequestGuard, allowed_hosts=host_names, small_body_limit=request_body_limit(0, 0),
                       body_limits={path: request_body_limit(count, max_upload_bytes)
                                    for path, count in photo_routes.items()})
    # Compress what is worth it (three.js is 2.2 MB as sent otherwise); the event stream is left alone.
    app.add_middleware(GZipMiddleware, minimum_size=COMPRESS_FROM_BYTES, compresslevel=6,
                       exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "model/3mf"))  # a 3MF is a zip
    app.state.store = store
    app.state.max_upload_bytes = max_upload_bytes
    app.state.decode_slots = PhotoDecodeSlots()
    app.state.hub_config = hub_config if hub_config is not None else HubConfig.load()
    app.state.templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    # The form macros describe an unset option the way the CLI's --help does.
    app.state.templates.env.globals["describe_default"] = describe_default
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    # edits before jobs: its GET /{job_id}/{name} would otherwise take /{job_id}/versions.
    for router in (edits.router, jobs.router, photos.router, printers.router, pages.router, docs.router, shares.router):
        app.include_router(router)

    @app.exception_handler(FabricateError)
    async def library_error(request: Request, exc: FabricateError):
        if exc.http_status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def unreadable_request(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": validation_words(exc.errors())}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"detail": f"internal error ({type(exc).__name__})"}, status_code=500)

    return app


def validation_words(errors) -> str:
    """Pydantic's complaints about a request as one plain sentence ("height_mm must be a number, got 'abc'")."""
    lines = []
    for error in errors:
        where = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        name = where[0] if where else "the request"
        kind, given = error.get("type", ""), error.get("input")
        if kind == "missing":
            lines.append(f"{name} is required")
        elif kind == "extra_forbidden":
            lines.append(f"unknown field {name!r}")
        elif kind.endswith("_parsing") or kind.endswith("_type"):
            wanted = TYPE_WORDS.get(kind.split("_")[0],
                                    error.get("msg", "").lower().removeprefix("input should be "))
            got = f", got {given!r}" if isinstance(given, str) else ""
            lines.append(f"{name} must be {wanted}{got}")
        else:
            lines.append(f"{name}: {error.get('msg', 'not accepted')}")
    return "; ".join(dict.fromkeys(lines)) or "the request could not be read"


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
