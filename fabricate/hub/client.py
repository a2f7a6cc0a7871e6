"""Hub settings, and the package prepared for hubs without an upload API.

- ``HubConfig``: where a hub with an API answers and its token (hub.toml, the environment, the OS keyring);
- ``ManualHubAdapter``: hubs without a public upload API (Printables, MakerWorld): it prepares a zip with the
  files and metadata and returns the hub's upload page.
Hubs with an API (your own, Thingiverse, Sketchfab) are in adapters.py and run step by step through the
share queue (queue.py).
"""
from __future__ import annotations

import json
import math
import os
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from fabricate.atomic import atomic_open
from fabricate.errors import InputError
from fabricate.hub.package import ModelPackage
from fabricate.hub.profiles import PROFILES, profile_of
from fabricate.hub.transport import RetryPolicy

#: Hubs without an upload API, and the page a prepared package is uploaded on.
MANUAL_HUBS = {name: p.upload_page for name, p in PROFILES.items() if p.kind == "manual"}
#: Where the hubs with a public API answer; hub.toml or FABRICATE_<HUB>_URL may point elsewhere.
HUB_API_URLS = {name: p.api_url for name, p in PROFILES.items() if p.api_url}
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
        return ("base_url and token in hub.toml (~/.config/fabricate/hub.toml), "
                "or FABRICATE_HUB_URL and FABRICATE_HUB_TOKEN")
    return f"FABRICATE_{hub.upper()}_TOKEN, the [{hub}] table of hub.toml or the OS keyring"


class ManualHubAdapter:
    """For hubs without an upload API: a ready-to-upload zip and the page to upload it on."""

    def __init__(self, hub: str, out_dir: Path):
        if profile_of(hub).kind != "manual":
            raise InputError(f"{hub} has an upload API; only {', '.join(MANUAL_HUBS)} get a prepared package")
        self.hub, self.out_dir = hub, Path(out_dir)

    def bundle_path(self, model_path: Path) -> Path:
        """Where the zip for ``model_path`` is written."""
        return self.out_dir / f"{Path(model_path).stem}-{self.hub}-upload.zip"

    def upload(self, package: ModelPackage) -> str:
        """The hub's upload page, naming the zip written beside the model (never its folder: the
        answer may leave this machine, as the web app's is)."""
        profile_of(self.hub).check(package)  # a licence the hub does not have is refused before any file is written
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


def is_configured(hub: str, generic: Optional[HubConfig] = None) -> bool:
    """Whether sharing to ``hub`` can start: a manual hub always; a hub with an API once its token (and, for the
    generic hub, its address) is set; ``generic`` is the generic hub's settings when given by the caller."""
    if profile_of(hub).kind == "manual" or (hub == "generic" and generic is not None):
        return True
    try:
        return HubConfig.load(hub=hub) is not None
    except InputError:  # settings that cannot be used: not set up, and sharing says why
        return False


def hub_overview(generic: Optional[HubConfig] = None) -> list:
    """Every hub as the page's Share dialog shows it: licences, tag limits, what it needs, whether it is set up."""
    return [profile.describe(is_configured(name, generic)) for name, profile in PROFILES.items()]
