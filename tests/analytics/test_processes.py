"""Two real web server processes (granian) on one database: revocation and rate limits (per
key on collect, per owner on reads) hold across processes, on the database store and on
Redis; a summary through either counts what the other just accepted, before any processing."""

import os
import signal
import socket
import subprocess
import time

import pytest
import requests
from django.conf import settings
from rest_framework.authtoken.models import Token

from config.server import web_command
from tests.analytics.factories import OwnerFactory, registered_app

REDIS_TEST_URL = "redis://127.0.0.1:6379/5"
COLLECT_RATE = 6
READ_RATE = 4
EVENT = {"event": "click", "userId": "u1"}


def _free_port() -> int:
    """A port nothing listens on now. Not a fixed one: the server binds with SO_REUSEPORT, so a
    server another run left on a fixed port would silently share our connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_ready(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "server exited"
        try:
            requests.get(f"http://127.0.0.1:{port}/api/analytics/collect", timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise AssertionError(f"server on {port} did not start")


@pytest.fixture(params=["database", "redis"])
def servers(request, test_database_url):
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url,
        "ANALYTICS_COLLECT_RATE": str(COLLECT_RATE),
        "ANALYTICS_READ_RATE": str(READ_RATE),
        "WEB_LOG_LEVEL": "error",
    }
    env.pop("REDIS_URL", None)
    if request.param == "redis":
        import redis

        redis.Redis.from_url(REDIS_TEST_URL).flushdb()
        env["REDIS_URL"] = REDIS_TEST_URL
    ports = (_free_port(), _free_port())
    while ports[1] == ports[0]:
        ports = (ports[0], _free_port())
    processes = [
        subprocess.Popen(
            web_command(host="127.0.0.1", port=port, workers=1, threads=1),
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, stopped whole below
        )
        for port in ports
    ]
    try:
        for port, process in zip(ports, processes, strict=True):
            _wait_ready(port, process)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if request.param == "redis":
            import redis

            redis.Redis.from_url(REDIS_TEST_URL).flushdb()


def _collect_alternating(servers: list[str], raw: str, count: int) -> tuple[list[int], bool]:
    """Collect ``count`` times, alternating servers: the statuses, and whether every request
    fell in one clock minute (the limit's window)."""
    minute = int(time.time() // 60)
    statuses = []
    for index in range(count):
        response = requests.post(
            f"{servers[index % 2]}/api/analytics/collect",
            json=EVENT,
            headers={"X-Api-Key": raw},
            timeout=10,
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert 1 <= int(response.headers["Retry-After"]) <= 60
            assert response.json()["code"] == "throttled"
    return statuses, int(time.time() // 60) == minute


@pytest.mark.django_db(transaction=True)
def test_rate_limit_and_revocation_hold_across_two_server_processes(servers):
    owner = OwnerFactory.create()
    _, raw = registered_app(owner)
    token = Token.objects.create(user=owner).key
    first, second = servers
    # The window is the clock minute: a sequence that crosses a minute boundary (a slow machine)
    # proves nothing, so it is repeated with a fresh key (what it stored is still counted below).
    stored = 0
    for attempt in range(3):
        statuses, one_window = _collect_alternating(servers, raw, COLLECT_RATE + 4)
        stored += statuses.count(202)
        if one_window:
            break
        _, raw = registered_app(owner, name=f"retry {attempt}")
    assert one_window
    assert statuses == [202] * COLLECT_RATE + [429] * 4

    # Revoked through one process, refused by the other on the very next request.
    _, fresh = registered_app(owner, name="fresh")
    assert (
        requests.post(
            f"{second}/api/analytics/collect", json=EVENT, headers={"x-api-key": fresh}, timeout=10
        ).status_code
        == 202
    )
    revoked = requests.post(
        f"{first}/api/auth/revoke",
        json={"apiKey": fresh},
        headers={"Authorization": f"Token {token}"},
        timeout=10,
    )
    assert revoked.status_code == 200
    assert revoked.json()["revoked"] is True
    refused = requests.post(
        f"{second}/api/analytics/collect", json=EVENT, headers={"x-api-key": fresh}, timeout=10
    )
    assert refused.status_code == 401

    summary = requests.get(
        f"{first}/api/analytics/event-summary",
        params={"event": "click"},
        headers={"Authorization": f"Token {token}"},
        timeout=10,
    )
    assert summary.json()["count"] == stored + 1

    # The per-owner read limit, counted across both processes (this owner read twice above).
    reads = [
        requests.get(
            f"{servers[index % 2]}/api/analytics/event-summary",
            params={"event": "click"},
            headers={"Authorization": f"Token {token}"},
            timeout=10,
        )
        for index in range(READ_RATE - 2 + 2)
    ]
    assert [r.status_code for r in reads] == [200] * (READ_RATE - 2) + [429] * 2
    assert reads[-1].json()["code"] == "throttled"
