"""A callback over HTTPS (a local TLS server and its own certificate authority): the connection
goes to the checked address while TLS still checks the certificate against the URL's name."""

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from webhooks.http import callback_post

pytestmark = pytest.mark.django_db


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list = []

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((self.path, self.headers["Host"]))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that refused our certificate closed the handshake: expected here


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch, dns, settings):
    """A TLS server on loopback with a certificate for ``receiver.example`` only, trusted
    through its own authority; ``receiver.example`` and ``other.example`` resolve to it."""
    settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = True  # the loopback server stands in
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("receiver.example").configure_cert(context)
    bundle = tmp_path / "authority.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setattr("webhooks.transfer.certifi.where", lambda: str(bundle))
    dns["receiver.example"] = ["127.0.0.1"]
    dns["other.example"] = ["127.0.0.1"]
    _Receiver.seen = []
    server = _Server(("127.0.0.1", 0), _Receiver)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_callback_over_https_verifies_the_name_on_the_checked_address(tls_receiver):
    port = tls_receiver
    delivered = callback_post(
        url=f"https://receiver.example:{port}/in", webhook_id="msg_1", body="{}"
    )
    assert (delivered.status_code, delivered.ok, delivered.excerpt) == (200, True, "ok")
    assert _Receiver.seen == [("/in", f"receiver.example:{port}")]


def test_a_certificate_for_another_name_is_refused(tls_receiver):
    port = tls_receiver
    refused = callback_post(url=f"https://other.example:{port}/in", webhook_id="msg_2", body="{}")
    assert (refused.status_code, refused.ok) == (None, False)
    assert refused.error.startswith("SSLError: ")
    assert _Receiver.seen == []
