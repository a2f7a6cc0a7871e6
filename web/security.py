"""Which requests the server answers at all: those naming it by an allowed name, and changes only from its own pages.

The server binds to loopback and has no accounts, so anything that can reach it can use it.
Two kinds of web page the user visits could reach it through their browser:

- a page on another site that posts a form or a `fetch` to http://127.0.0.1:8000 (cross-site
  request forgery): a state-changing request (POST, PUT, PATCH, DELETE) whose ``Origin`` is not
  this server, or that the browser marks ``Sec-Fetch-Site: cross-site`` / ``same-site``, is
  refused with 403;
- a page on a name the attacker controls that then resolves to 127.0.0.1 (DNS rebinding): its
  requests carry that name in ``Host``, so a request whose Host is not an allowed name is refused
  with 421, reads included.

Clients that are not browsers (curl, scripts) send no Origin and no Sec-Fetch-Site and are
answered as before. A request body larger than its route takes is refused with 413 from its
Content-Length, or as soon as more has arrived, never after receiving all of it.
:class:`RequestGuard` is one ASGI middleware in front of every route.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Iterable, Optional
from urllib.parse import urlsplit

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from fabricate.errors import BadOption

#: Names of this machine that no outside DNS answer can take over.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
#: Addresses that mean "every interface" when binding: not a name anyone can send in Host.
WILDCARD_ADDRESSES = ("0.0.0.0", "::")
#: Methods that change nothing; every other one (POST, PUT, PATCH, DELETE, ...) must come from the server's own page.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: What a browser says about who made a request; only these are the server's own (or the user's typing).
OWN_FETCH_SITES = ("same-origin", "none")
#: A port left out of a URL; Host carries none for either (behind a TLS proxy the scheme is not ours to see).
DEFAULT_PORTS = {"http": 80, "https": 443}
#: A host name as `--allow-host` takes it (no scheme, port or path); IP addresses are read by `ipaddress`.
HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_\-.]*[a-z0-9_])?\.?")


def host_name(name: str) -> str:
    """``name`` as Host headers are compared: lower case, no IPv6 brackets, no trailing dot."""
    return name.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")


def is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def checked_host_names(names: Iterable[str]) -> tuple:
    """Names given with `--host` and `--allow-host`, normalised; BadOption for one that is not a plain host name."""
    checked = []
    for name in names:
        if not (HOST_NAME.fullmatch(name.strip().lower()) or is_ip_address(host_name(name))):
            raise BadOption(f"--host and --allow-host take a host name or IP address without scheme or port, "
                            f"got {name!r}")
        checked.append(host_name(name))
    return tuple(checked)


def allowed_host_names(names: Iterable[str] = ()) -> frozenset:
    """The loopback names and ``names`` (the address bound to, `--allow-host`), wildcard addresses left out."""
    return frozenset(LOOPBACK_NAMES) | {name for name in checked_host_names(names) if name not in WILDCARD_ADDRESSES}


def split_authority(authority: str) -> tuple:
    """(host name, port or None) of ``host[:port]``; a default port (80, 443) counts as none."""
    parts = urlsplit(f"//{authority}")
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        return host_name(authority), -1
    if port in DEFAULT_PORTS.values():
        port = None
    return host_name(parts.hostname or ""), port


def origin_authority(origin: str) -> Optional[tuple]:
    """(host name, port or None) of an ``Origin`` header; None for ``null`` or anything unreadable."""
    parts = urlsplit(origin)
    if parts.scheme not in DEFAULT_PORTS or not parts.netloc:
        return None
    return split_authority(parts.netloc)


def too_large(limit: int, path: str) -> str:
    size = f"{limit / 1024 / 1024:.0f} MB" if limit >= 1024 * 1024 else f"{limit / 1024:.0f} KB"
    return f"the request is larger than {size}, the most this server takes at {path}"


class RequestGuard:
    """ASGI middleware refusing, as JSON: another Host (421), cross-site changes (403), bodies over the limit (413).

    ``body_limits`` maps a path to the most bytes its request body may hold; other paths take
    ``small_body_limit`` (JSON, or nothing).
    """

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset, body_limits: dict, small_body_limit: int):
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.body_limits = body_limits
        self.small_body_limit = small_body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.body_limits.get(scope["path"], self.small_body_limit)
        refusal = self.refusal(scope, headers) or self.declared_too_large(headers, limit, scope["path"])
        if refusal is not None:
            status, detail = refusal
            await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                # An HTTPException: FastAPI passes it on from body parsing, and its handler answers.
                raise HTTPException(413, too_large(limit, scope["path"]))
            return message

        await self.app(scope, receive_within_limit, send)

    @staticmethod
    def declared_too_large(headers: Headers, limit: int, path: str) -> Optional[tuple]:
        length = headers.get("content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > limit):
            return 413, too_large(limit, path)
        return None

    def refusal(self, scope: Scope, headers: Headers) -> Optional[tuple]:
        """(status, detail) when the request must not be answered whatever its body, else None."""
        host = headers.get("host", "")
        name, _ = split_authority(host)
        # The literal address this connection arrived on is no DNS name, so it cannot be rebound.
        arrived_on = host_name(str((scope.get("server") or ("",))[0]))
        if not name or (name not in self.allowed_hosts and name != arrived_on):
            return 421, (f"this server does not answer to the name {host!r}; start it with "
                         f"`fabricate serve --allow-host {name or 'NAME'}` to allow that name")
        if scope["method"] in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None:
            if origin_authority(origin) != split_authority(host):
                return 403, (f"cross-site request refused: a page from {origin} may not change anything "
                             "on this server; use the fabricate page itself")
        elif headers.get("sec-fetch-site", "none") not in OWN_FETCH_SITES:
            return 403, "cross-site request refused: only the fabricate page itself may change anything here"
        return None
