"""One HTTP request to a hub, with the retry rules every adapter shares.

A 5xx answer means the hub did not act on the request, so it is sent again after an
exponential backoff. A timeout or a dropped connection leaves the outcome unknown: a
request the hub deduplicates (an idempotency key it honours) is sent again; any other is
reported as ``AnswerLost`` so the share queue can first ask the hub whether it happened.
A 4xx answer is the hub's refusal and is never retried.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

from fabricate.errors import EXIT_INPUT, FabricateError


class HubError(FabricateError):
    """The hub did not accept the upload; the message says why. Over HTTP a bad gateway: the hub failed, not us."""

    http_status = 502


class HubRefused(HubError):
    """The hub answered 4xx: retrying cannot help (a bad token, a refused field); the user must act, so exit 2."""

    exit_code = EXIT_INPUT


class HubAnswerUnreadable(HubError):
    """The hub answered 2xx but not as its API documents (not JSON, or an expected field missing): nothing more
    is sent, since the next request depends on that answer, and retrying would not change it."""

    exit_code = EXIT_INPUT


class ShareFailed(HubError):
    """A share that ended for good (refused, or an answer that cannot be read); its record says why."""

    exit_code = EXIT_INPUT


class HubUnreachable(HubError):
    """The hub did not answer after every attempt (5xx, timeouts, dropped connections)."""


class AnswerLost(HubUnreachable):
    """The request may or may not have reached the hub: ask the hub before sending it again."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    backoff_s: float = 1.0
    timeout_s: float = 60.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return self.backoff_s * 2 ** (attempt - 1)


def send(method: str, url: str, policy: RetryPolicy, *, hub: str = "the hub", what: str = "the upload",
         token_hint: str = "", retry_lost_answers: bool = True, sleep: Callable[[float], None] = time.sleep,
         body: Optional[Callable[[], dict]] = None, headers: Optional[dict] = None):
    """Send one request, retried as the module says; returns the 2xx/3xx ``httpx.Response``.

    ``body`` builds the request's keyword arguments (``json``, ``data``, ``files``) afresh for each
    attempt, as an open file or a consumed stream cannot be sent twice. ``token_hint`` says where the
    token lives, for the 401 message; the token itself is never part of a message.
    """
    import httpx

    last_problem = "no attempt made"
    for attempt in range(1, policy.attempts + 1):
        try:
            response = httpx.request(method, url, timeout=policy.timeout_s, headers=headers or {},
                                     follow_redirects=False, **(body() if body else {}))
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            last_problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if not retry_lost_answers:
                raise AnswerLost(f"{hub} did not answer {what} ({last_problem})") from None
        else:
            if response.status_code < 400:
                return response
            if response.status_code == 401:
                raise HubRefused(f"{hub} refused the token (401 Unauthorized): {detail(response)}"
                                 + (f"; check {token_hint}" if token_hint else ""))
            if response.status_code < 500:
                raise HubRefused(f"{hub} refused {what} ({response.status_code}): {detail(response)}")
            last_problem = f"HTTP {response.status_code}"
        if attempt < policy.attempts:
            sleep(policy.delay(attempt))
    raise HubUnreachable(f"{hub} did not answer after {policy.attempts} attempts ({last_problem})")


def detail(response) -> str:
    """The hub's own words for a refusal, short."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("error") or body.get("errors") or body)[:300]
    return str(body)[:300]
