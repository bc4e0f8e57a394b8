"""Outbound HTTP transfers: many calls made together on the calling thread by libcurl's multi
interface (pycurl), over connections kept alive from one pass to the next.

``transfer(wires, concurrency=n)`` makes every ``Wire`` (at most ``n`` in flight at once) and
gives, in the same order, a ``WireAnswer`` or a ``WireFailure`` for each. Nothing here touches
the database or raises for a failed call. The calling thread keeps its own multi handle and
its finished easy handles for the next call (``threading.local``), so a thread never shares
them.

The SSRF guard's part (``connect_to``): the connection goes to the checked address, whatever
DNS says by then (libcurl's ``CONNECT_TO``; TLS and the ``Host`` header still name the host),
and every socket libcurl opens for such a wire is checked once more, on the address it is
about to connect to (``OPENSOCKETFUNCTION``): a refused address never gets a connection.
See docs/decisions/0075-webhooks-calls-through-libcurl.md.
"""

import io
import ipaddress
import socket
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast
from urllib.parse import urlsplit

import certifi
import pycurl

# libcurl's error numbers, named as the errors the calls record ("ConnectionError: ...").
_ERROR_KINDS = {
    pycurl.E_OPERATION_TIMEDOUT: "Timeout",
    pycurl.E_TOO_MANY_REDIRECTS: "TooManyRedirects",
    pycurl.E_SSL_CONNECT_ERROR: "SSLError",
    pycurl.E_PEER_FAILED_VERIFICATION: "SSLError",
    pycurl.E_URL_MALFORMAT: "InvalidURL",
    pycurl.E_UNSUPPORTED_PROTOCOL: "InvalidURL",
}
_WEB = pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS


@dataclass(frozen=True, slots=True)
class Wire:
    """One HTTP call to make."""

    method: str  # "GET" or "POST"
    url: str
    headers: dict[str, str]
    timeout: float  # seconds for the whole call (connect, send, answer)
    body: bytes | None = None
    follow_redirects: bool = False
    # The checked address to connect to; every socket is then checked by ``address_check``.
    connect_to: str | None = None
    address_check: Callable[[str], str | None] | None = None  # address -> refusal, or None
    keep_bytes: int | None = None  # keep at most this much of the answer's body (None: all)


@dataclass(frozen=True, slots=True)
class WireAnswer:
    status: int
    raw_headers: bytes  # the header lines as received (each answer's, redirects followed)
    body: bytes
    started_at: datetime
    finished_at: datetime

    def header(self, name: str) -> str | None:
        """The last answer's header ``name`` (any case), if it has one. Read only when asked:
        most answers' headers are never looked at."""
        wanted, value = name.lower().encode(), None
        for line in self.raw_headers.split(b"\n"):
            if line.startswith(b"HTTP/"):
                value = None  # a new answer (a redirect followed, or 100 Continue)
            else:
                key, colon, rest = line.partition(b":")
                if colon and key.strip().lower() == wanted:
                    value = rest.strip().decode("latin-1")
        return value


@dataclass(frozen=True, slots=True)
class WireFailure:
    error: str  # "ConnectionError: Failed to connect to ..."
    started_at: datetime
    finished_at: datetime
    refused: str | None = None  # why the address check refused the connection, if it did


@dataclass(slots=True)
class _Call:
    """An easy handle's state for the call it is making."""

    index: int = 0
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    body: io.BytesIO = field(default_factory=io.BytesIO)
    keep: int | None = None
    head: io.BytesIO = field(default_factory=io.BytesIO)
    refused: str | None = None

    def write_kept(self, data: bytes) -> None:
        """Keep at most ``keep`` bytes of the body (the rest is read and dropped)."""
        room = (self.keep or 0) - self.body.tell()
        if room > 0:
            self.body.write(data[:room])


class _Handles(threading.local):
    def __init__(self) -> None:
        self.multi = pycurl.CurlMulti()
        self.free: list[pycurl.Curl] = []


_handles = _Handles()


def transfer(wires: Sequence[Wire], *, concurrency: int) -> list[WireAnswer | WireFailure]:
    """Make every call, at most ``concurrency`` at once; the answers in the wires' order."""
    multi, free = _handles.multi, _handles.free
    results: list[WireAnswer | WireFailure | None] = [None] * len(wires)
    waiting = deque(enumerate(wires))
    active: dict[pycurl.Curl, _Call] = {}
    try:
        while waiting or active:
            while waiting and len(active) < max(1, concurrency):
                index, wire = waiting.popleft()
                handle = free.pop() if free else pycurl.Curl()
                try:
                    active[handle] = _prepare(handle, wire, index)
                except (pycurl.error, ValueError, TypeError) as exc:  # this call only fails
                    now = datetime.now(UTC)
                    results[index] = WireFailure(f"InvalidRequest: {exc}", now, now)
                    free.append(handle)
                    continue
                multi.add_handle(handle)
            _perform(multi)
            for handle, errno, message in _finished(multi):
                call = active.pop(handle)
                multi.remove_handle(handle)
                results[call.index] = _result(handle, call, errno, message)
                free.append(handle)
            if active:
                multi.select(min(max(multi.timeout(), 1), 1000) / 1000)
    finally:
        for handle in active:  # an exception mid-way: nothing is left half-made in the multi
            multi.remove_handle(handle)
            handle.close()
    return cast(list[WireAnswer | WireFailure], results)  # every index was filled


def _perform(multi: pycurl.CurlMulti) -> None:
    while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
        pass


def _finished(multi: pycurl.CurlMulti) -> list[tuple[pycurl.Curl, int, str]]:
    done: list[tuple[pycurl.Curl, int, str]] = []
    while True:
        left, succeeded, failed = multi.info_read()
        done += [(handle, 0, "") for handle in succeeded]
        done += failed
        if not left:
            return done


def _prepare(handle: pycurl.Curl, wire: Wire, index: int) -> _Call:
    call = _Call(index=index, keep=wire.keep_bytes)
    handle.reset()  # keeps the handle's live connections
    handle.setopt(pycurl.URL, wire.url)
    handle.setopt(pycurl.NOSIGNAL, 1)
    handle.setopt(pycurl.PROXY, "")  # no proxy from the environment: we connect where we checked
    handle.setopt(pycurl.PROTOCOLS, _WEB)
    handle.setopt(pycurl.REDIR_PROTOCOLS, _WEB)
    handle.setopt(pycurl.CAINFO, certifi.where())
    handle.setopt(pycurl.TIMEOUT_MS, max(1, int(wire.timeout * 1000)))
    handle.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in wire.headers.items()] + ["Expect:"])
    # The buffers' own write methods where nothing is dropped: no Python frame per chunk.
    handle.setopt(pycurl.WRITEFUNCTION, call.body.write if call.keep is None else call.write_kept)
    handle.setopt(pycurl.HEADERFUNCTION, call.head.write)
    if wire.follow_redirects:
        handle.setopt(pycurl.FOLLOWLOCATION, 1)
        handle.setopt(pycurl.MAXREDIRS, 10)
    if wire.method == "POST":
        handle.setopt(pycurl.POSTFIELDS, wire.body or b"")
    elif wire.method != "GET":
        handle.setopt(pycurl.CUSTOMREQUEST, wire.method)
    if wire.connect_to is not None:
        _pin(handle, wire, call)
    return call


def _pin(handle: pycurl.Curl, wire: Wire, call: _Call) -> None:
    """Connect to the wire's checked address only, and check every socket's address again."""
    parts = urlsplit(wire.url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = wire.connect_to or ""
    target = f"[{address}]" if ":" in address else address
    handle.setopt(pycurl.CONNECT_TO, [f"{parts.hostname}:{port}:{target}:{port}"])
    check = wire.address_check

    def opensocket(_purpose: int, where: pycurl.CurlSockAddr) -> socket.socket | int:
        host = where.addr[0] if isinstance(where.addr, tuple) else None
        if not isinstance(host, str):  # not an internet address: never connected to
            call.refused = "The callback address is not an internet address."
            return pycurl.SOCKET_BAD
        refusal = check(str(ipaddress.ip_address(host.split("%", 1)[0]))) if check else None
        if refusal is not None:
            call.refused = refusal
            return pycurl.SOCKET_BAD
        return socket.socket(where.family, where.socktype, where.protocol)

    handle.setopt(pycurl.OPENSOCKETFUNCTION, opensocket)


def _result(handle: pycurl.Curl, call: _Call, errno: int, message: str) -> WireAnswer | WireFailure:
    finished = datetime.now(UTC)
    if errno:
        if call.refused is not None:
            return WireFailure(call.refused, call.started_at, finished, refused=call.refused)
        kind = _ERROR_KINDS.get(errno, "ConnectionError")
        return WireFailure(f"{kind}: {message}", call.started_at, finished)
    status = int(handle.getinfo(pycurl.RESPONSE_CODE))
    head, body = call.head.getvalue(), call.body.getvalue()
    return WireAnswer(status, head, body, call.started_at, finished)
