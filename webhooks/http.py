"""The webhooks domain's two outbound calls, a provider fetch and a signed callback, made
together by ``calls_make`` (``webhooks.transfer``: libcurl, every call of a pass in flight on
one thread, connections kept alive).

These functions touch no database. Each call gives an ``HttpOutcome`` the caller records.
Provider URLs are settings (trusted; their redirects are followed); a callback is checked by
the SSRF guard (``webhooks.netguard``) before its call, connects only to the checked address,
and every socket it opens is checked again on the address it connects to; its redirects are
not followed. See docs/decisions/0075-webhooks-calls-through-libcurl.md.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from standardwebhooks import Webhook

from core.api.parsers import has_nul
from webhooks.models import EXCERPT_MAX_CHARS
from webhooks.netguard import CallbackRefusedError, callback_check, host_addresses
from webhooks.transfer import Wire, WireAnswer, WireFailure, transfer

USER_AGENT = "streaming-backoffice-webhooks/1.0"
_HEADERS = {"User-Agent": USER_AGENT, "Accept": "*/*"}
# What is kept of a callback's answer: enough for its excerpt in any encoding.
_CALLBACK_KEEP_BYTES = EXCERPT_MAX_CHARS * 4


@dataclass(frozen=True)
class HttpOutcome:
    started_at: datetime
    finished_at: datetime
    status_code: int | None = None
    excerpt: str = ""
    error: str = ""
    data: Any = None  # the parsed JSON of a successful provider answer
    retry_after_seconds: float | None = None
    refused: bool = False  # the callback address was refused by the SSRF guard

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.error


@dataclass(frozen=True, slots=True)
class FetchCall:
    url: str


@dataclass(frozen=True, slots=True)
class CallbackCall:
    url: str
    webhook_id: str
    body: str


def _now() -> datetime:
    return datetime.now(UTC)


def _excerpt(text: str) -> str:
    """The start of ``text`` as a text column keeps it: PostgreSQL's cannot hold NUL, which
    becomes U+FFFD (an answer carrying one must not fail its pass's recording)."""
    return text[:EXCERPT_MAX_CHARS].replace("\x00", "\ufffd")


def retry_after_parse(value: str | None, *, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), if valid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def calls_make(calls: Sequence[FetchCall | CallbackCall], *, concurrency: int) -> list[HttpOutcome]:
    """Make every call, at most ``concurrency`` in flight at once; their outcomes in order. A
    callback the guard refuses before its call is not made."""
    outcomes: list[HttpOutcome | None] = [None] * len(calls)
    wires: list[Wire] = []
    made: list[int] = []
    for index, call in enumerate(calls):
        if isinstance(call, FetchCall):
            wires.append(_fetch_wire(call))
        else:
            wire_or_refusal = _callback_wire(call)
            if isinstance(wire_or_refusal, HttpOutcome):
                outcomes[index] = wire_or_refusal
                continue
            wires.append(wire_or_refusal)
        made.append(index)
    for index, answer in zip(made, transfer(wires, concurrency=concurrency), strict=True):
        call = calls[index]
        if isinstance(call, FetchCall):
            outcomes[index] = _fetch_outcome(answer)
        else:
            outcomes[index] = _callback_outcome(answer)
    return [outcome for outcome in outcomes if outcome is not None]


def provider_fetch(*, url: str) -> HttpOutcome:
    return calls_make([FetchCall(url)], concurrency=1)[0]


def callback_post(*, url: str, webhook_id: str, body: str) -> HttpOutcome:
    return calls_make([CallbackCall(url, webhook_id, body)], concurrency=1)[0]


def _fetch_wire(call: FetchCall) -> Wire:
    return Wire(
        "GET",
        call.url,
        _HEADERS,
        timeout=settings.WEBHOOKS_FETCH_TIMEOUT_SECONDS,
        follow_redirects=True,  # a provider's URL is trusted: its redirects are followed
    )


def _fetch_outcome(answer: WireAnswer | WireFailure) -> HttpOutcome:
    if isinstance(answer, WireFailure):
        return HttpOutcome(answer.started_at, answer.finished_at, error=_excerpt(answer.error))
    started, finished, status = answer.started_at, answer.finished_at, answer.status
    excerpt = _excerpt(answer.body.decode("utf-8", "replace"))
    if not 200 <= status < 300:
        return HttpOutcome(started, finished, status, excerpt)
    try:
        data = json.loads(answer.body)
    except ValueError:
        return HttpOutcome(started, finished, status, excerpt, "not JSON")
    if b"\\u0000" in answer.body and has_nul(data):  # PostgreSQL's jsonb cannot store NUL
        return HttpOutcome(started, finished, status, excerpt, "JSON with a NUL character")
    return HttpOutcome(started, finished, status, excerpt, data=data)


@lru_cache(maxsize=4)
def _signer(secret: str) -> Webhook:
    return Webhook(secret)


def signature_headers(*, webhook_id: str, body: str, at: datetime) -> dict[str, str]:
    """Standard Webhooks headers for ``body`` (signed by the reference library)."""
    signature = _signer(settings.WEBHOOKS_SIGNING_SECRET).sign(webhook_id, at, body)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def _callback_wire(call: CallbackCall) -> Wire | HttpOutcome:
    """The callback's wire, connecting only to the address checked now; or, refused, the
    outcome of a call not made."""
    started = _now()
    try:
        address = callback_check(call.url)
    except CallbackRefusedError as exc:
        return HttpOutcome(started, _now(), error=_excerpt(exc.detail), refused=True)
    headers = {
        **_HEADERS,
        "Content-Type": "application/json",
        **signature_headers(webhook_id=call.webhook_id, body=call.body, at=started),
    }
    return Wire(
        "POST",
        call.url,
        headers,
        timeout=settings.WEBHOOKS_DELIVERY_TIMEOUT_SECONDS,
        body=call.body.encode(),
        connect_to=address,
        address_check=_address_refusal,
        keep_bytes=_CALLBACK_KEEP_BYTES,
    )


def _address_refusal(address: str) -> str | None:
    """Why a connection to ``address`` is refused (the guard's rules), or None."""
    try:
        host_addresses(address, 0)
    except CallbackRefusedError as exc:
        return str(exc.detail)
    return None


def _callback_outcome(answer: WireAnswer | WireFailure) -> HttpOutcome:
    if isinstance(answer, WireFailure):
        error = _excerpt(answer.error)
        refused = answer.refused is not None
        return HttpOutcome(answer.started_at, answer.finished_at, error=error, refused=refused)
    status, finished = answer.status, answer.finished_at
    retry_after = None
    if status in (429, 503):
        retry_after = retry_after_parse(answer.header("Retry-After"), now=finished)
    return HttpOutcome(
        answer.started_at,
        finished,
        status_code=status,
        excerpt=_excerpt(answer.body.decode("utf-8", "replace")),
        # A redirect is not followed (it could point inside).
        error="redirect not followed" if 300 <= status < 400 else "",
        retry_after_seconds=retry_after,
    )
