"""Granian blocking threads per worker, measured per endpoint.

With the database round trip now most of a request's time (bench/budget.md), a worker's thread
waits on PostgreSQL for much of each request; more threads per worker could overlap those
waits, and a single analytics collect shares its statement with the collects its process
receives meanwhile (decision 0074). This scenario serves the platform with 4, 8, 16
and 32 threads per worker (one worker per core) and drives POST /liveEvent, a stream
heartbeat, the open compat stream check, a single analytics collect and a webhooks submit
(POST /webhook), each beside the empty-view ceiling of the same run.
"""

from bench.harness import Harness
from bench.scenarios import analytics_http, webhooks
from bench.scenarios.ingestion_http import LIVE_SCRIPT, _reset
from bench.scenarios.streams import (
    CONNECTIONS,
    _clear_sessions,
    _heartbeat_alone,
    _prepare,
)

NAME = "threads"
DESCRIPTION = (
    "Granian threads per worker (4, 8, 16, 32) for POST /liveEvent, a stream heartbeat, the "
    "compat stream check, a single analytics collect and POST /webhook, beside the empty-view "
    "ceiling of the same run."
)
THREADS = (4, 8, 16, 32)


def run(h: Harness) -> dict:
    token = _prepare(h)
    ceiling = h.ceiling(connections=CONNECTIONS)
    rps = ceiling["requests_per_s"] or None
    figures: dict = {"ceiling_empty_view": ceiling}
    best: dict[str, tuple[int, float]] = {}
    for threads in THREADS:
        _reset(h)
        _clear_sessions(h)
        analytics_http._reset(h)
        webhooks._reset(h)
        key = analytics_http.app_create(h)["key"]
        env = {**analytics_http.SERVER_SETTINGS, **webhooks.ENGINE_ENV}
        with h.server(threads=threads, env=env) as base:
            cases = {
                "live_event": h.wrk(
                    base + "/liveEvent",
                    script=LIVE_SCRIPT.replace("%%", "%"),
                    connections=CONNECTIONS,
                ),
                "heartbeat": _heartbeat_alone(h, base, token),
                "compat_check": h.wrk(
                    base + "/add-stream/user/bench-v0001", connections=CONNECTIONS
                ),
                "collect": h.wrk(
                    base + "/api/analytics/collect",
                    script=analytics_http.SINGLE_SCRIPT.replace("KEY", key),
                    connections=CONNECTIONS,
                ),
                "post_webhook": h.wrk(
                    base + "/webhook",
                    method="POST",
                    body=webhooks.SUBMIT_BODY,
                    headers={"Content-Type": "application/json"},
                    connections=CONNECTIONS,
                ),
            }
        for case, result in cases.items():
            ratio = round(result["requests_per_s"] / rps, 3) if rps else None
            figures.setdefault(f"threads_{threads}", {})[case] = {
                "requests_per_s": result["requests_per_s"],
                "p99_ms": result["p99_ms"],
                "non_2xx": result["non_2xx"],
                "vs_ceiling": ratio,
            }
            if ratio is not None and ratio > best.get(case, (0, 0.0))[1]:
                best[case] = (threads, ratio)
    figures["best_threads"] = {case: threads for case, (threads, _) in best.items()}
    figures["notes"] = (
        "One worker per core; threads are granian's --blocking-threads (WEB_THREADS). "
        "best_threads names the thread count with the highest ratio for each endpoint in this "
        "run; config/server.py's default follows it only where the gain is clear and repeats."
    )
    return figures
