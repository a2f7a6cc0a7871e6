"""Upload packages to model-sharing hubs.

One adapter per hub behind `upload(package) -> url`:
- ``HttpHubClient``: hubs with an upload API (a multipart POST with a bearer token),
  retrying 5xx answers, timeouts and dropped connections with exponential backoff;
- ``ManualHubAdapter``: hubs without a public upload API (Printables, MakerWorld):
  it prepares a zip with the files and metadata and returns the hub's upload page.
Thingiverse and Sketchfab, whose uploads take several requests, are in adapters.py and
run step by step through the share queue (queue.py). ``HubConfig`` holds every hub's settings.
"""
from __future__ import annotations

import json
import math
import os
import time
import tomllib
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from fabricate.atomic import atomic_open
from fabricate.errors import InputError
from fabricate.hub.package import ModelPackage
from fabricate.hub.transport import HubError, RetryPolicy, send

MANUAL_HUBS = {"printables": "https://www.printables.com/model/upload",
               "makerworld": "https://makerworld.com/en/my/models/upload"}
#: Where the hubs with an adapter answer (their public APIs); hub.toml or FABRICATE_<HUB>_URL may point elsewhere.
HUB_API_URLS = {"thingiverse": "https://api.thingiverse.com", "sketchfab": "https://api.sketchfab.com/v3"}
USER_AGENT = "fabricate"
#: The schemes a hub's API can be reached by; anything else would fail on every retry.
HUB_SCHEMES = ("http", "https")


@dataclass
class HubConfig:
    """Where and how to upload: from FABRICATE_HUB_URL / FABRICATE_HUB_TOKEN or ~/.config/fabricate/hub.toml."""

    base_url: str
    token: str = field(repr=False)  # never in a log or a traceback's locals shown by repr
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

    def policy(self) -> RetryPolicy:
        return RetryPolicy(attempts=self.attempts, backoff_s=self.backoff_s, timeout_s=self.timeout_s)

    @classmethod
    def load(cls, environ=None, path: Optional[Path] = None, hub: str = "generic") -> Optional["HubConfig"]:
        """The settings for ``hub``: "generic" from the top of hub.toml and FABRICATE_HUB_URL/_TOKEN; a hub
        with an adapter (thingiverse, sketchfab) from its ``[hub]`` table, FABRICATE_<HUB>_URL/_TOKEN, and
        the token from the OS keyring (service "fabricate", user ``hub``) when neither names one."""
        environ = os.environ if environ is None else environ
        values = {}
        path = path or Path(environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "fabricate" / "hub.toml"
        if Path(path).is_file():
            with open(path, "rb") as handle:
                settings = tomllib.load(handle)
            values.update(settings if hub == "generic" else settings.get(hub, {}))
        prefix = "FABRICATE_HUB" if hub == "generic" else f"FABRICATE_{hub.upper()}"
        if environ.get(f"{prefix}_URL"):
            values["base_url"] = environ[f"{prefix}_URL"]
        if environ.get(f"{prefix}_TOKEN"):
            values["token"] = environ[f"{prefix}_TOKEN"]
        values.setdefault("base_url", HUB_API_URLS.get(hub))
        if not values.get("token") and hub != "generic":
            values["token"] = _keyring_token(hub)
        if not values.get("base_url") or not values.get("token"):
            return None
        try:
            numbers = {"timeout_s": float(values.get("timeout_s", 60.0)), "attempts": int(values.get("attempts", 4)),
                       "backoff_s": float(values.get("backoff_s", 1.0))}
        except (TypeError, ValueError) as exc:
            raise InputError(f"the hub settings in {path} hold a value that is not a number ({exc})") from None
        return cls(base_url=str(values["base_url"]).rstrip("/"), token=str(values["token"]), **numbers)


def _keyring_token(hub: str) -> Optional[str]:
    """The token kept in the OS keyring, when the keyring package is installed and holds one."""
    try:
        import keyring
    except ImportError:
        return None
    try:
        return keyring.get_password("fabricate", hub)
    except Exception:  # no keyring backend on this machine: as if it held nothing
        return None


def token_hint(hub: str) -> str:
    """Where the user puts the token for ``hub`` (for messages; never the token itself)."""
    if hub == "generic":
        return "FABRICATE_HUB_TOKEN or hub.toml"
    return f"FABRICATE_{hub.upper()}_TOKEN, the [{hub}] table of hub.toml or the OS keyring"


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
        package.validate()
        key = str(uuid.uuid4())

        def body():
            files = {"metadata": (None, json.dumps(package.metadata()), "application/json"),
                     "model": (Path(package.model_path).name, Path(package.model_path).read_bytes(),
                               "model/3mf")}
            if package.preview_path and Path(package.preview_path).is_file():
                files["preview"] = ("preview.png", Path(package.preview_path).read_bytes(), "image/png")
            return {"files": files}

        # The hub drops a repeated Idempotency-Key, so a lost answer is simply sent again.
        response = send("POST", f"{self.config.base_url}/api/v1/models", self.config.policy(), body=body,
                        sleep=self.sleep, token_hint=token_hint("generic"),
                        headers={"Authorization": f"Bearer {self.config.token}", "Idempotency-Key": key,
                                 "User-Agent": USER_AGENT})
        try:
            return str(response.json()["url"])
        except (ValueError, KeyError, TypeError):
            raise HubError("the hub accepted the upload but did not return the model's URL") from None


class ManualHubAdapter:
    """For hubs without an upload API: a ready-to-upload zip and the page to upload it on."""

    def __init__(self, hub: str, out_dir: Path):
        if hub not in MANUAL_HUBS:
            raise InputError(f"unknown hub {hub!r}; choose one of {', '.join(['generic', *HUB_API_URLS, *MANUAL_HUBS])}")
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


def hub_client(hub: str = "generic", out_dir: Optional[Path] = None, config: Optional[HubConfig] = None):
    """The adapter for ``hub``: "generic" (HTTP API from the config) or a manual hub."""
    if hub == "generic":
        config = config or HubConfig.load()
        if config is None:
            raise InputError("no hub is configured: set FABRICATE_HUB_URL and FABRICATE_HUB_TOKEN "
                             "(or ~/.config/fabricate/hub.toml)")
        return HttpHubClient(config)
    return ManualHubAdapter(hub, out_dir or Path.cwd())
