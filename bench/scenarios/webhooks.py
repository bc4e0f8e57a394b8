"""Webhooks: POST /webhook beside the ceiling, then 1,000 requests for both providers at a 50%
provider failure rate drained by a real worker cluster with a short backoff."""

import json
import os
import signal
import subprocess
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.harness import ROOT, Harness
from webhooks.transfer import Wire, WireAnswer, transfer

NAME = "webhooks"
DESCRIPTION = (
    "POST /webhook at 32 connections beside the empty-view ceiling; then 1,000 collection "
    "requests for gas and internet with the mock providers failing 50% of calls and a short "
    "backoff (base 0.05 s, cap 1 s), drained by a real qcluster: delivered, each once by "
    "webhook-id, bodies complete, drain time vs each request's own scheduled waits."
)
REQUESTS = 1000
# What the submit phase sends: both providers, a callback nothing listens on (no worker runs).
SUBMIT_BODY = json.dumps({"provider": ["gas", "internet"], "callbackUrl": "http://127.0.0.1:9/h"})
FIXTURES = ROOT / "webhooks" / "fixtures"
TABLES = (
    "webhooks_attempt, webhooks_delivery, webhooks_providerfetch, webhooks_collectionrequest, "
    "webhooks_providerbreaker, webhooks_mockprovider, django_q_ormq"
)
ENGINE_ENV = {
    "PROVIDERS_MOCK_ENABLED": "true",
    "PROVIDERS_FAILURE_RATE": "0.5",
    "WEBHOOKS_SUBMIT_RATE": "0",
    "WEBHOOKS_CALLBACK_ALLOWED_NETWORKS": "127.0.0.1/32",
    "WEBHOOKS_BACKOFF_BASE_SECONDS": "0.05",
    "WEBHOOKS_MAX_BACKOFF": "1",
    # At a steady 50% failure rate five failures in a row are common: a breaker that opens
    # would pause a provider for its cool-down, and the drain would measure the breaker, not
    # the backoff (docs/decisions/0044-webhooks-circuit-breaker.md).
    "WEBHOOKS_BREAKER_FAILURES": "1000",
    "WEBHOOKS_CONCURRENCY": "16",
    "WEBHOOKS_CLAIM_BATCH": "128",
}


class Receiver(BaseHTTPRequestHandler):
    """The caller's callback endpoint. HTTP/1.1, so the platform's pooled connections are kept
    alive as by any production receiver (HTTP/1.0 closed each one after its callback)."""

    protocol_version = "HTTP/1.1"
    calls: list = []
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with type(self).lock:
            type(self).calls.append((time.monotonic(), self.headers["webhook-id"], body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class ReceiverServer(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: with 16 callbacks connecting at once, the
    # connections beyond it were dropped and retried by the kernel a second later, so the
    # receiver, not the platform, set the delivery rate (107 ms per callback on average).
    request_queue_size = 128
    daemon_threads = True


def _reset(h: Harness) -> None:
    with h.connect() as conn:
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY")
        # The drain's in-flight lock, taken by the web processes when no worker ran.
        conn.execute("DELETE FROM platform_cache WHERE cache_key LIKE %s", ["%batcher:webhooks%"])


def _submit_all(base: str, callback: str) -> float:
    """The 1,000 submits, 8 in flight at once, by libcurl on one thread: a client of the
    platform's, whose own CPU should take as little as it can from the two cores it shares
    (Python's requests on 8 threads took about 0.7 ms of CPU per submit)."""
    body = json.dumps({"provider": ["gas", "internet"], "callbackUrl": callback}).encode()
    headers = {"Content-Type": "application/json"}
    wires = [Wire("POST", base + "/webhook", headers, timeout=30, body=body)] * REQUESTS
    started = time.monotonic()
    answers = transfer(wires, concurrency=8)
    elapsed = time.monotonic() - started
    refused = [a for a in answers if not isinstance(a, WireAnswer) or a.status != 202]
    assert not refused, refused[:3]
    return elapsed


def _scheduled_waits(h: Harness) -> dict:
    """Per request: its submit time and the waits its longest chain was scheduled to make
    (the slowest provider's retry waits, then the delivery's)."""
    with h.connect() as conn:
        rows = conn.execute(
            """
            SELECT r.id, EXTRACT(EPOCH FROM r.created_at),
                   COALESCE((SELECT MAX(w) FROM (
                       SELECT SUM(EXTRACT(EPOCH FROM a.next_attempt_at - a.finished_at)) AS w
                       FROM webhooks_attempt a
                       WHERE a.request_id = r.id AND a.kind = 'fetch' AND a.outcome = 'retry'
                       GROUP BY a.provider) f), 0)
                 + COALESCE((SELECT SUM(EXTRACT(EPOCH FROM a.next_attempt_at - a.finished_at))
                       FROM webhooks_attempt a
                       WHERE a.request_id = r.id AND a.kind = 'delivery'
                         AND a.outcome = 'retry'), 0)
            FROM webhooks_collectionrequest r
            """
        ).fetchall()
        calls = h.one(conn, "SELECT COUNT(*) FROM webhooks_attempt WHERE kind = 'fetch'")[0]
        statuses: dict[str, int] = dict(
            conn.execute(
                "SELECT status, COUNT(*) FROM webhooks_collectionrequest GROUP BY status"
            ).fetchall()
        )
    first = min(float(created) for _, created, _ in rows)
    bound = max(float(created) - first + float(waits) for _, created, waits in rows)
    longest = max(float(waits) for _, _, waits in rows)
    return {"bound_s": bound, "longest_chain_s": longest, "fetch_calls": calls, **statuses}


def _drain(h: Harness, base: str) -> dict:
    Receiver.calls = []
    receiver = ReceiverServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    callback = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    env = h.env({**ENGINE_ENV, "WEBHOOKS_PROVIDER_BASE_URL": base + "/providers/"})
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-webhooks-qcluster.log"
    with log_path.open("w") as log:
        cluster = subprocess.Popen(
            [h.python, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            time.sleep(3)  # the cluster is up before the clock starts
            started = time.monotonic()
            submit_s = _submit_all(base, callback)
            deadline = started + 600
            while time.monotonic() < deadline:
                with Receiver.lock:
                    ids = {webhook_id for _, webhook_id, _ in Receiver.calls}
                if len(ids) >= REQUESTS:
                    break
                time.sleep(0.2)
            with Receiver.lock:
                calls = list(Receiver.calls)
        finally:
            cluster.terminate()
            try:
                cluster.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(cluster.pid, signal.SIGKILL)
                cluster.wait()
            receiver.shutdown()
    expected = {
        "gas": json.loads((FIXTURES / "gas.json").read_text()),
        "internet": json.loads((FIXTURES / "internet.json").read_text()),
    }
    ids_by_request, incomplete = defaultdict(set), 0
    for _, webhook_id, raw in calls:
        body = json.loads(raw)
        ids_by_request[body["id"]].add(webhook_id)
        incomplete += body["status"] != "completed" or body["data"] != expected
    drain_s = (max(t for t, _, _ in calls) - started) if calls else None
    waits = _scheduled_waits(h)
    return {
        "requests": REQUESTS,
        "delivered_requests": len(ids_by_request),
        "callbacks_received": len(calls),
        "requests_with_more_than_one_webhook_id": sum(len(v) > 1 for v in ids_by_request.values()),
        "duplicate_callbacks": len(calls) - len(ids_by_request),
        "incomplete_bodies": incomplete,
        "submit_s": round(submit_s, 2),
        "drain_s": round(drain_s, 2) if drain_s else None,
        "scheduled_bound_s": round(waits["bound_s"], 2),
        "longest_chain_waits_s": round(waits["longest_chain_s"], 2),
        "drain_vs_schedule": round(drain_s / waits["bound_s"], 3) if drain_s else None,
        "provider_calls_per_request": round(waits["fetch_calls"] / REQUESTS, 2),
        "provider_calls_per_request_expected": 4,
        "status_delivered": waits.get("delivered", 0),
    }


def _outage(h: Harness) -> dict:
    env = h.env(
        {
            "PROVIDERS_MOCK_ENABLED": "true",
            "WEBHOOKS_CALLBACK_ALLOWED_NETWORKS": "127.0.0.1/32",
            "WEBHOOKS_CONCURRENCY": "1",
        }
    )
    done = subprocess.run(
        [h.python, "-m", "bench.webhooks_outage"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"outage simulation failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(h: Harness) -> dict:
    ceiling = h.ceiling(connections=32)
    figures: dict = {"ceiling_empty_view": ceiling}
    h.prepare()
    _reset(h)
    with h.server(env=ENGINE_ENV) as base:
        post = h.wrk(
            base + "/webhook",
            method="POST",
            body=SUBMIT_BODY,
            headers={"Content-Type": "application/json"},
            connections=32,
        )
    figures["post_webhook"] = {
        **post,
        "vs_ceiling": round(post["requests_per_s"] / ceiling["requests_per_s"], 3),
    }
    _reset(h)  # no worker ran: the wrk requests are dropped before the drain
    with h.server(env=ENGINE_ENV) as base:
        figures["drain_1000"] = _drain(h, base)
    _reset(h)
    figures["outage_driven_clock"] = _outage(h)
    _reset(h)
    figures["notes"] = (
        "POST /webhook answers 202 after committing the request and its two fetch rows (and "
        "the per-address rate-limit upsert, 0 = off here). The drain: a real qcluster "
        "(Q_WORKERS 2) with the production server serving the mock providers; "
        "scheduled_bound_s is the latest of (submit offset + the waits its slowest chain was "
        "scheduled to make, from the attempts' next_attempt_at - finished_at); "
        "drain_vs_schedule = drain_s / scheduled_bound_s (target <= 1.25). The breaker "
        "threshold is raised (1000) so the figure measures the backoff (decision 0044). "
        "outage_driven_clock: a 600 s gas outage with a request every 15 s, default backoff "
        "and breaker, the clock driven one second per pass (bench/webhooks_outage.py). "
        "The callback receiver is the bench's own HTTP/1.1 server (a listen backlog of 128)."
    )
    return figures
