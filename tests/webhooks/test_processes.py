"""A real worker cluster killed with SIGKILL while fetches and deliveries are in flight: a new
cluster takes the work back (leases lapse) and every request is delivered, each under one
webhook-id. Providers and the callback receiver are local HTTP servers on threads."""

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from core.schedules import schedules_sync
from webhooks import services, work
from webhooks.models import CollectionRequest

FIXTURES = Path(__file__).resolve().parents[2] / "webhooks" / "fixtures"
REQUESTS = 20


@pytest.fixture
def enqueued():
    """Here the tasks really go to the queue (the cluster runs them), and no drain lock left
    in the cache by an earlier test may hold back the drain."""
    cache.delete(work.WORK_BATCHER.lock_key)
    yield []
    cache.delete(work.WORK_BATCHER.lock_key)


class Providers(BaseHTTPRequestHandler):
    rng = random.Random(7)

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        time.sleep(0.05)
        if type(self).rng.random() < 0.5:
            self._answer(500, b"#fail", "text/plain")
        else:
            self._answer(200, (FIXTURES / f"{name}.json").read_bytes(), "application/json")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Receiver(Providers):
    """Fails the first attempt of each message, then answers 200 after a pause (in flight)."""

    calls: list = []
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        webhook_id = self.headers["webhook-id"]
        with type(self).lock:
            first = all(seen != webhook_id for seen, _ in type(self).calls)
            type(self).calls.append((webhook_id, json.loads(body)))
        time.sleep(0.3)
        self._answer(500 if first else 200, b"", "text/plain")


def _serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _cluster(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the kill takes its workers too
    )


def _wait(condition, seconds: float, what) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what()
        time.sleep(0.2)


def _state() -> str:
    from django_q.models import Failure, Schedule

    from webhooks.selectors import queue_state_get

    return repr(
        (
            queue_state_get(),
            list(Schedule.objects.values_list("name", "next_run")),
            list(Failure.objects.values_list("func", "result")[:3]),
        )
    )


@pytest.fixture
def short_drain_lock(monkeypatch):
    """This process submits the requests and so takes the drain lock: for the workers' lease
    (WEBHOOKS_LEASE_SECONDS below), as every process would in production."""
    batcher = dataclasses.replace(work.WORK_BATCHER, lock_seconds=3)
    monkeypatch.setattr(work, "WORK_BATCHER", batcher)
    monkeypatch.setattr(services, "WORK_BATCHER", batcher)


@pytest.mark.django_db(transaction=True)
def test_a_killed_cluster_loses_nothing_and_delivers_each_request_once(
    api_client, test_database_url, tmp_path, short_drain_lock
):
    schedules_sync()
    Receiver.calls = []
    providers, receiver = _serve(Providers), _serve(Receiver)
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url,
        "Q_WORKERS": "2",
        "WEBHOOKS_PROVIDER_BASE_URL": f"http://127.0.0.1:{providers.server_address[1]}/providers/",
        "WEBHOOKS_ALLOW_PRIVATE_CALLBACKS": "true",
        "WEBHOOKS_BACKOFF_BASE_SECONDS": "0.2",
        "WEBHOOKS_MAX_BACKOFF": "1",
        "WEBHOOKS_LEASE_SECONDS": "3",
        # The production drain budget (240 s): the killed cluster's drain held the in-flight
        # lock, which must lapse a lease after its last pass, not after the whole budget.
        "WEBHOOKS_FETCH_TIMEOUT_SECONDS": "2",
        "WEBHOOKS_DELIVERY_TIMEOUT_SECONDS": "2",
        "WEBHOOKS_BREAKER_FAILURES": "1000",
        "WEBHOOKS_CONCURRENCY": "4",
    }
    env.pop("REDIS_URL", None)
    callback = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    log = tmp_path.joinpath("cluster.log").open("w")
    first = _cluster(env, log)
    second = None
    try:
        for _ in range(REQUESTS):
            body = {"provider": ["gas", "internet"], "callbackUrl": callback}
            assert api_client.post("/webhook", body, format="json").status_code == 202
        _wait(
            lambda: len(Receiver.calls) >= 5,
            90,
            lambda: "the first cluster delivered nothing: " + _state(),
        )
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        assert CollectionRequest.objects.exclude(status="delivered").exists()
        second = _cluster(env, log)
        _wait(
            lambda: not CollectionRequest.objects.exclude(status="delivered").exists(),
            180,
            lambda: "the second cluster did not finish the work: " + _state(),
        )
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()  # the cluster stops its own workers
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=30)
        providers.shutdown()
        receiver.shutdown()
    ids_by_request = defaultdict(set)
    for webhook_id, body in Receiver.calls:
        ids_by_request[body["id"]].add(webhook_id)
        assert body["status"] == "completed"
        assert set(body["data"]) == {"gas", "internet"}
    expected = {str(pk) for pk in CollectionRequest.objects.values_list("pk", flat=True)}
    assert set(ids_by_request) == expected
    assert len(expected) == REQUESTS
    assert all(len(ids) == 1 for ids in ids_by_request.values())
