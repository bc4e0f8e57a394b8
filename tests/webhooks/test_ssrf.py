"""The SSRF guard: internal addresses refused at submit, again at delivery (DNS may change),
and on the address actually connected to."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.webhooks.factories import collection_make
from webhooks.http import callback_post
from webhooks.models import CollectionRequest, Delivery, MockProvider
from webhooks.netguard import CallbackRefusedError, host_addresses
from webhooks.transfer import Wire, WireFailure, transfer
from webhooks.work import work_settle

pytestmark = pytest.mark.django_db

# Every spelling of an internal address the guard must refuse (the host part of the URL).
INTERNAL_HOSTS = [
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "017700000001",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "localhost",
    "localhost.",
    "169.254.169.254",
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.0.1",
    "192.168.255.254",
    "[fc00::1]",
    "[fd12:3456::1]",
    "0.0.0.0",
    "0",
    "[::]",
    "100.64.0.1",
    "[fe80::1]",
    "224.0.0.1",
]
# Names whose DNS answer is internal.
INTERNAL_ANSWERS = ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "fd00::5", "192.168.1.1"]


@pytest.fixture
def guarded(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = False
    return settings


@pytest.mark.parametrize("host", INTERNAL_HOSTS)
def test_every_internal_spelling_is_refused_at_submit(api_client, guarded, host):
    url = f"http://{host}/hook"
    response = api_client.post("/webhook", {"provider": "gas", "callbackUrl": url}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["callbackUrl"]
    assert not CollectionRequest.objects.exists()


@pytest.mark.parametrize("host", INTERNAL_HOSTS)
def test_every_internal_spelling_is_refused_by_the_guard_itself(guarded, host):
    with pytest.raises(CallbackRefusedError):
        host_addresses(host.strip("[]"), 80)


@pytest.mark.parametrize("answer", INTERNAL_ANSWERS)
def test_a_name_resolving_to_an_internal_address_is_refused_at_submit(
    api_client, guarded, dns, answer
):
    dns["sneaky.example"] = ["93.184.216.34", answer]
    response = api_client.post(
        "/webhook", {"provider": "gas", "callbackUrl": "https://sneaky.example/h"}, format="json"
    )
    assert response.status_code == 400
    assert "internal address" in response.json()["callbackUrl"][0]


def test_public_addresses_pass(guarded, dns):
    assert [str(a) for a in host_addresses("callback.example", 443)] == ["93.184.216.34"]
    assert [str(a) for a in host_addresses("8.8.8.8", 443)] == ["8.8.8.8"]
    assert [str(a) for a in host_addresses("2606:4700::1111", 443)] == ["2606:4700::1111"]


@pytest.mark.parametrize("answer", INTERNAL_ANSWERS)
def test_dns_changed_between_submit_and_delivery_is_refused_at_delivery(
    outside, driven, guarded, dns, answer
):
    MockProvider.objects.create(name="gas", failure_rate=0, latency_ms=0)
    request = collection_make(providers=("gas",))  # passes: callback.example is public now
    dns["callback.example"] = [answer]
    work_settle()
    assert outside.receiver.calls == []
    delivery = Delivery.objects.get(request=request)
    assert delivery.state == "failed"
    assert "internal address" in delivery.last_response
    request.refresh_from_db()
    assert request.status == "failed"


@pytest.mark.parametrize("host", INTERNAL_HOSTS)
def test_internal_spellings_stored_before_the_guard_are_refused_at_delivery(
    outside, driven, settings, host
):
    # Accepted while private callbacks were allowed, delivered after they no longer are.
    MockProvider.objects.create(name="gas", failure_rate=0, latency_ms=0)
    request = collection_make(providers=("gas",), callback_url=f"http://{host}/hook")
    settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = False
    work_settle()
    delivery = Delivery.objects.get(request=request)
    assert (delivery.state, delivery.attempts) == ("failed", 1)
    assert delivery.last_status_code is None


class _Recorder(BaseHTTPRequestHandler):
    seen: list = []
    redirect_to: str | None = None

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).seen.append((self.path, self.headers.get("Host")))
        redirect_to = type(self).redirect_to
        if redirect_to:
            self.send_response(302)
            self.send_header("Location", redirect_to)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    _Recorder.seen, _Recorder.redirect_to = [], None
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_connection_goes_to_the_checked_address_with_the_host_name_kept(
    local_server, dns, settings
):
    # Allowed here so the loopback server can stand in for the resolved address.
    settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = True
    port = local_server.server_address[1]
    dns["receiver.example"] = ["127.0.0.1"]
    outcome = callback_post(url=f"http://receiver.example:{port}/in", webhook_id="msg_1", body="{}")
    assert outcome.status_code == 200
    assert _Recorder.seen == [("/in", f"receiver.example:{port}")]


def test_the_connect_time_check_refuses_an_internal_address(local_server, dns, guarded):
    port = local_server.server_address[1]
    dns["receiver.example"] = ["127.0.0.1"]
    outcome = callback_post(url=f"http://receiver.example:{port}/in", webhook_id="msg_1", body="{}")
    assert outcome.refused
    assert outcome.status_code is None
    assert _Recorder.seen == []


def test_every_socket_is_checked_on_the_address_it_connects_to(local_server, guarded):
    # Below the callback code: a wire whose socket address the check refuses gets no
    # connection; the check is given the address libcurl is about to connect to.
    port = local_server.server_address[1]
    checked: list[str] = []

    def check(address: str) -> str:
        checked.append(address)
        return f"refused {address}"

    wire = Wire(
        "POST",
        f"http://receiver.example:{port}/in",
        {},
        timeout=2,
        body=b"{}",
        connect_to="127.0.0.1",
        address_check=check,
    )
    [failure] = transfer([wire], concurrency=1)
    assert isinstance(failure, WireFailure)
    assert (failure.refused, failure.error) == ("refused 127.0.0.1", "refused 127.0.0.1")
    assert checked == ["127.0.0.1"]
    assert _Recorder.seen == []


def test_the_socket_check_applies_the_guard_when_the_first_check_was_passed(
    local_server, guarded, monkeypatch
):
    # Were the check before the call ever to let an internal address through, the socket's
    # own check, with the guard's rules, would still refuse it.
    port = local_server.server_address[1]
    monkeypatch.setattr("webhooks.http.callback_check", lambda url: "127.0.0.1")
    outcome = callback_post(url=f"http://receiver.example:{port}/in", webhook_id="msg_1", body="{}")
    assert (outcome.refused, outcome.status_code, outcome.ok) == (True, None, False)
    assert "internal address (127.0.0.1)" in outcome.error
    assert _Recorder.seen == []


def test_a_redirect_to_an_internal_host_is_not_followed(local_server, dns, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = True
    port = local_server.server_address[1]
    dns["receiver.example"] = ["127.0.0.1"]
    _Recorder.redirect_to = f"http://127.0.0.1:{port}/internal"
    outcome = callback_post(url=f"http://receiver.example:{port}/in", webhook_id="msg_1", body="{}")
    assert (outcome.status_code, outcome.error, outcome.ok) == (302, "redirect not followed", False)
    assert _Recorder.seen == [("/in", f"receiver.example:{port}")]


def test_an_operator_allowed_network_passes_and_nothing_else(guarded, dns):
    guarded.WEBHOOKS_CALLBACK_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    dns["receiver.internal"] = ["10.20.3.4"]
    assert [str(a) for a in host_addresses("receiver.internal", 443)] == ["10.20.3.4"]
    dns["receiver.internal"] = ["10.21.3.4"]
    with pytest.raises(CallbackRefusedError):
        host_addresses("receiver.internal", 443)
    with pytest.raises(CallbackRefusedError):
        host_addresses("127.0.0.1", 443)
