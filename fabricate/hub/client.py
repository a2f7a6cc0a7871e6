"""Upload packages to model-sharing hubs.

One adapter per hub behind `upload(package) -> url`:
- ``HttpHubClient``: hubs with an upload API (a multipart POST with a bearer token),
  retrying 5xx answers, timeouts and dropped connections with exponential backoff;
- ``ManualHubAdapter``: hubs without a public upload API (Printables, MakerWorld):
  it prepares a zip with the files and metadata and returns the hub's upload page.
"""
from __future__ import annotations

import json
import math
import os
import time
import tomllib
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from fabricate.atomic import atomic_open
from fabricate.errors import FabricateError, InputError
from fabricate.hub.package import ModelPackage

MANUAL_HUBS = {"printables": "https://www.printables.com/model/upload",
               "makerworld": "https://makerworld.com/en/my/models/upload"}
#: The schemes a hub's API can be reached by; anything else would fail on every retry.
HUB_SCHEMES = ("http", "https")


class HubError(FabricateError):
    """The hub did not accept the upload; the message says why."""


@dataclass
class HubConfig:
    """Where and how to upload: from FABRICATE_HUB_URL / FABRICATE_HUB_TOKEN or ~/.config/fabricate/hub.toml."""

    base_url: str
    token: str
    timeout_s: float = 60.0
    attempts: int = 4
    backoff_s: float = 1.0

    def __post_init__(self):
        """Refuse a configuration no upload could succeed with, at once (never retried)."""
        scheme = urlsplit(self.base_url).scheme
        if scheme not in HUB_SCHEMES or not urlsplit(self.base_url).netloc:
            raise InputError(f"the hub URL {self.base_url!r} is not an http:// or https:// address "
                             "(FABRICATE_HUB_URL or hub.toml)")
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise InputError(f"the hub timeout_s must be a number above 0, got {self.timeout_s!r}")
        if not (math.isfinite(self.backoff_s) and self.backoff_s >= 0):
            raise InputError(f"the hub backoff_s must be a number of at least 0, got {self.backoff_s!r}")
        if self.attempts < 1:
            raise InputError(f"the hub attempts must be at least 1, got {self.attempts!r}")

    @classmethod
    def load(cls, environ=None, path: Optional[Path] = None) -> Optional["HubConfig"]:
        environ = os.environ if environ is None else environ
        values = {}
        path = path or Path(environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "fabricate" / "hub.toml"
        if Path(path).is_file():
            with open(path, "rb") as handle:
                values.update(tomllib.load(handle))
        if environ.get("FABRICATE_HUB_URL"):
            values["base_url"] = environ["FABRICATE_HUB_URL"]
        if environ.get("FABRICATE_HUB_TOKEN"):
            values["token"] = environ["FABRICATE_HUB_TOKEN"]
        if not values.get("base_url") or not values.get("token"):
            return None
        try:
            numbers = {"timeout_s": float(values.get("timeout_s", 60.0)), "attempts": int(values.get("attempts", 4)),
                       "backoff_s": float(values.get("backoff_s", 1.0))}
        except (TypeError, ValueError) as exc:
            raise InputError(f"the hub settings in {path} hold a value that is not a number ({exc})") from None
        return cls(base_url=str(values["base_url"]).rstrip("/"), token=str(values["token"]), **numbers)


class HttpHubClient:
    """Upload to a hub's HTTP API: ``POST {base_url}/api/v1/models`` (multipart).

    Parts: ``metadata`` (JSON), ``model`` (the 3MF) and ``preview`` (PNG). The token
    goes in ``Authorization: Bearer``; one ``Idempotency-Key`` per upload lets the hub
    drop duplicates when a retry follows a lost answer. The hub answers 200/201 with
    JSON holding the model's ``url``.
    """

    def __init__(self, config: HubConfig, sleep=time.sleep):
        self.config = config
        self.sleep = sleep

    def upload(self, package: ModelPackage) -> str:
        import httpx

        package.validate()
        key = str(uuid.uuid4())
        url = f"{self.config.base_url}/api/v1/models"
        last_problem = "no attempt made"
        for attempt in range(1, self.config.attempts + 1):
            files = {"metadata": (None, json.dumps(package.metadata()), "application/json"),
                     "model": (Path(package.model_path).name, Path(package.model_path).read_bytes(),
                               "model/3mf")}
            if package.preview_path and Path(package.preview_path).is_file():
                files["preview"] = ("preview.png", Path(package.preview_path).read_bytes(), "image/png")
            try:
                response = httpx.post(url, files=files, timeout=self.config.timeout_s,
                                      headers={"Authorization": f"Bearer {self.config.token}",
                                               "Idempotency-Key": key, "User-Agent": "fabricate"})
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code in (200, 201):
                    try:
                        return str(response.json()["url"])
                    except (ValueError, KeyError, TypeError):
                        raise HubError("the hub accepted the upload but did not return the model's URL") from None
                if response.status_code < 500:
                    raise HubError(f"the hub refused the upload ({response.status_code}): {_detail(response)}")
                last_problem = f"HTTP {response.status_code}"
            if attempt < self.config.attempts:
                self.sleep(self.config.backoff_s * 2 ** (attempt - 1))
        raise HubError(f"the hub did not answer after {self.config.attempts} attempts ({last_problem})")


class ManualHubAdapter:
    """For hubs without an upload API: a ready-to-upload zip and the page to upload it on."""

    def __init__(self, hub: str, out_dir: Path):
        if hub not in MANUAL_HUBS:
            raise InputError(f"unknown hub {hub!r}; choose one of {', '.join(['generic', *MANUAL_HUBS])}")
        self.hub, self.out_dir = hub, Path(out_dir)

    def bundle_path(self, model_path: Path) -> Path:
        """Where the zip for ``model_path`` is written."""
        return self.out_dir / f"{Path(model_path).stem}-{self.hub}-upload.zip"

    def upload(self, package: ModelPackage) -> str:
        """The hub's upload page, naming the zip written beside the model (never its folder: the
        answer may leave this machine, as the web app's is)."""
        package.validate()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        target = self.bundle_path(package.model_path)
        with atomic_open(target) as stream, zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as bundle:
            bundle.write(package.model_path, Path(package.model_path).name)
            if package.preview_path and Path(package.preview_path).is_file():
                bundle.write(package.preview_path, "preview.png")
            bundle.writestr("metadata.json", json.dumps(package.metadata(), indent=2))
            bundle.writestr("README.txt", f"Upload {Path(package.model_path).name} at {MANUAL_HUBS[self.hub]} "
                                          "and tick the AI-generated disclosure.\n")
        return f"{MANUAL_HUBS[self.hub]}#package={target.name}"


def _detail(response) -> str:
    try:
        body = response.json()
        return str(body.get("detail") or body.get("error") or body)
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase


def hub_client(hub: str = "generic", out_dir: Optional[Path] = None, config: Optional[HubConfig] = None):
    """The adapter for ``hub``: "generic" (HTTP API from the config) or a manual hub."""
    if hub == "generic":
        config = config or HubConfig.load()
        if config is None:
            raise InputError("no hub is configured: set FABRICATE_HUB_URL and FABRICATE_HUB_TOKEN "
                             "(or ~/.config/fabricate/hub.toml)")
        return HttpHubClient(config)
    return ManualHubAdapter(hub, out_dir or Path.cwd())
