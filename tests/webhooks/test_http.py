"""The two outbound calls over real HTTP (a local server): what goes on the wire, the pooled
connection reused, a provider's redirect followed, a callback's not, no cookie kept."""

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from webhooks.http import USER_AGENT, FetchCall, callback_post, calls_make, provider_fetch
from webhooks.models import EXCERPT_MAX_CHARS
from webhooks.transfer import Wire, WireAnswer, WireFailure, transfer

pytestmark = pytest.mark.django_db


class _Server(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps connections alive, as a production server does
    seen: list = []
    peers: set = set()
    lock = threading.Lock()
    in_flight = most_in_flight = 0

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        type(self).seen.append(("GET", self.path, dict(self.headers), b""))
        type(self).peers.add(self.client_address)
        if self.path.startswith("/slow/"):
            self._slow()
        elif self.path == "/moved":
            self._answer(301, b"", {"Location": "/data"})
        elif self.path == "/big":
            self._answer(500, b"x" * (EXCERPT_MAX_CHARS + 100), {})
        else:
            data = json.dumps({"usage": 12}).encode()
            cookie = {"Set-Cookie": "session=abc"}
            self._answer(200, data, {"Content-Type": "application/json", **cookie})

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append(("POST", self.path, dict(self.headers), body))
        if self.path == "/moved":
            self._answer(302, b"", {"Location": "/in"})
        elif self.path == "/busy":
            self._answer(503, b"later", {"Retry-After": "7"})
        else:
            self._answer(200, b"ok", {})

    def _slow(self) -> None:
        """Answers its number after a while, counting the calls in flight at once."""
        cls = type(self)
        with cls.lock:
            cls.in_flight += 1
            cls.most_in_flight = max(cls.most_in_flight, cls.in_flight)
        time.sleep(0.6 if self.path.endswith("/sleepy") else 0.1)
        with cls.lock:
            cls.in_flight -= 1
        try:
            self._answer(
                200, self.path.split("/")[2].encode(), {"Content-Type": "application/json"}
            )
        except (BrokenPipeError, ConnectionResetError):  # the caller gave up (its timeout)
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server(settings, dns):
    settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = True  # the loopback server stands in
    dns["receiver.example"] = ["127.0.0.1"]
    _Server.seen, _Server.peers = [], set()
    _Server.in_flight = _Server.most_in_flight = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_fetch_reads_the_json_and_sends_our_headers_only(server):
    first = provider_fetch(url=f"http://{server}/data")
    second = provider_fetch(url=f"http://{server}/data")
    assert (first.status_code, first.data, first.ok) == (200, {"usage": 12}, True)
    assert second.data == {"usage": 12}
    (_, path, headers, _), (_, _, again, _) = _Server.seen
    assert path == "/data"
    assert headers["User-Agent"] == USER_AGENT
    assert headers["Accept"] == "*/*"
    assert "Cookie" not in again  # a cookie the provider set is not sent back
    assert len(_Server.peers) == 1  # one pooled connection, kept alive


def test_a_provider_redirect_is_followed(server):
    outcome = provider_fetch(url=f"http://{server}/moved")
    assert (outcome.status_code, outcome.data) == (200, {"usage": 12})
    assert [path for _, path, _, _ in _Server.seen] == ["/moved", "/data"]


def test_a_failed_fetch_keeps_a_bounded_excerpt(server):
    outcome = provider_fetch(url=f"http://{server}/big")
    assert (outcome.status_code, outcome.ok, outcome.data) == (500, False, None)
    assert outcome.excerpt == "x" * EXCERPT_MAX_CHARS


def test_a_callback_posts_the_signed_body_and_does_not_follow_a_redirect(server):
    delivered = callback_post(
        url=f"http://receiver.example:{server.split(':')[1]}/in", webhook_id="msg_1", body='{"a":1}'
    )
    assert (delivered.status_code, delivered.ok, delivered.excerpt) == (200, True, "ok")
    method, path, headers, body = _Server.seen[0]
    assert (method, path, body) == ("POST", "/in", b'{"a":1}')
    assert headers["Content-Type"] == "application/json"
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["User-Agent"] == USER_AGENT

    moved = callback_post(url=f"http://{server}/moved", webhook_id="msg_2", body="{}")
    assert (moved.status_code, moved.error, moved.ok) == (302, "redirect not followed", False)
    assert [path for _, path, _, _ in _Server.seen] == ["/in", "/moved"]


def test_a_callback_busy_answer_gives_its_retry_after(server):
    busy = callback_post(url=f"http://{server}/busy", webhook_id="msg_3", body="{}")
    assert (busy.status_code, busy.retry_after_seconds, busy.excerpt) == (503, 7.0, "later")


def test_a_refused_connection_is_an_error_not_an_exception(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = True
    outcome = provider_fetch(url="http://127.0.0.1:9/data")  # the discard port: nothing listens
    assert outcome.status_code is None
    assert outcome.error.startswith("ConnectionError")


def test_calls_are_made_together_up_to_the_concurrency_and_answered_in_order(server):
    calls = [FetchCall(f"http://{server}/slow/{n}") for n in range(12)]
    outcomes = calls_make(calls, concurrency=4)
    assert [outcome.data for outcome in outcomes] == list(range(12))
    assert _Server.most_in_flight == 4
    assert len(_Server.peers) == 4  # one kept-alive connection per call in flight


def test_a_call_over_its_timeout_is_an_error(server, settings):
    settings.WEBHOOKS_FETCH_TIMEOUT_SECONDS = 0.2
    [late, quick] = calls_make(
        [FetchCall(f"http://{server}/slow/1/sleepy"), FetchCall(f"http://{server}/data")],
        concurrency=2,
    )
    assert (late.status_code, late.ok) == (None, False)
    assert late.error.startswith("Timeout: ")
    assert (quick.status_code, quick.data) == (200, {"usage": 12})


def test_a_header_is_read_from_the_last_answer_in_any_case():
    now = datetime.now(UTC)
    raw = (
        b"HTTP/1.1 301 Moved Permanently\r\nRetry-After: 1\r\nLocation: /x\r\n\r\n"
        b"HTTP/1.1 503 Service Unavailable\r\nretry-after:  7 \r\nContent-Length: 0\r\n\r\n"
    )
    answer = WireAnswer(503, raw, b"", now, now)
    assert answer.header("Retry-After") == "7"
    assert answer.header("location") is None  # the redirect's, not the last answer's
    assert answer.header("Content-length") == "0"


def test_a_call_that_cannot_be_made_fails_alone(server):
    now = datetime.now(UTC)
    wires = [
        Wire("GET", f"http://{server}/da\x00ta", {}, timeout=2),  # libcurl refuses a NUL
        Wire("GET", f"http://{server}/data", {}, timeout=2),
    ]
    refused, answered = transfer(wires, concurrency=2)
    assert isinstance(refused, WireFailure)
    assert refused.error == "InvalidRequest: embedded null byte"
    assert refused.started_at >= now
    assert isinstance(answered, WireAnswer)
    assert (answered.status, answered.body) == (200, b'{"usage": 12}')
