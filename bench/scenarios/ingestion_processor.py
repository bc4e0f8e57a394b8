"""Processor throughput: fold 1,000,000 pending events (loaded with COPY) into the totals."""

import json
import random
import subprocess
import time

from bench.harness import ROOT, Harness

NAME = "ingestion_processor"
DESCRIPTION = (
    "The ingestion processor folding 1,000,000 pending events of 10,000 users into "
    "users_revenue (manage.py process_events --all path), beside PostgreSQL's COPY of the "
    "same rows; then rebuild_revenue --verify."
)
EVENTS = 1_000_000
USERS = 10_000
CLAIMS = (100_000, 1_000_000)

_TIMED = """
import json, time, django
django.setup()
from ingestion.services import events_process_pending
batches = []
started = time.perf_counter()
total = events_process_pending(limit={claim}, on_batch=batches.append)
print(json.dumps({{"events": total, "seconds": time.perf_counter() - started,
                  "batches": len(batches)}}))
"""


def _load(h: Harness) -> tuple[dict[str, int], float]:
    rng = random.Random(7)
    expected: dict[str, int] = {}
    with h.connect() as conn:
        conn.execute("TRUNCATE ingestion_event, ingestion_batch, users_revenue RESTART IDENTITY")
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY ingestion_event (user_id, name, value, amount, credential, received_at) "
                "FROM STDIN"
            ) as copy,
        ):
            for _ in range(EVENTS):
                user_id = f"user{rng.randrange(USERS)}"
                value = rng.randrange(1000)
                if rng.random() < 0.3:
                    name, amount = "subtract_revenue", -value
                else:
                    name, amount = "add_revenue", value
                expected[user_id] = expected.get(user_id, 0) + amount
                copy.write_row((user_id, name, value, amount, "bench", "2026-01-01T00:00:00Z"))
        copy_seconds = time.perf_counter() - started
        conn.execute("VACUUM ANALYZE ingestion_event")
    return expected, copy_seconds


def run(h: Harness) -> dict:
    h.prepare()
    figures: dict = {"events": EVENTS, "users": USERS}
    for claim in CLAIMS:
        expected, copy_seconds = _load(h)
        result = subprocess.run(
            [h.python, "-c", _TIMED.format(claim=claim)],
            cwd=ROOT,
            env=h.env({"DJANGO_SETTINGS_MODULE": "config.settings"}),
            capture_output=True,
            text=True,
            check=True,
        )
        timed = json.loads(result.stdout.strip().splitlines()[-1])
        with h.connect() as conn:
            rows = conn.execute("SELECT user_id, revenue FROM users_revenue").fetchall()
            stored: dict[str, int] = dict(rows)
        h.manage("rebuild_revenue", "--verify")
        figures[f"claim_{claim}"] = {
            "events_per_s": round(timed["events"] / timed["seconds"]),
            "seconds": round(timed["seconds"], 3),
            "batches": timed["batches"],
            "totals_equal_serial_sum": stored == expected,
            "copy_rows_per_s": round(EVENTS / copy_seconds),
        }
    best = max(CLAIMS, key=lambda c: figures[f"claim_{c}"]["events_per_s"])
    figures["best_events_per_s"] = figures[f"claim_{best}"]["events_per_s"]
    figures["target_events_per_s"] = 500_000
    figures["notes"] = (
        "Rows are loaded with COPY, then VACUUM ANALYZE (what autovacuum does after a bulk "
        "load). Each claim is one transaction: one statement aggregates the next id range per "
        "user and upserts-adds it into users_revenue, and a batch row records the range (the "
        "watermark; docs/decisions/0022-processing-watermark.md); events are never updated. "
        "copy_rows_per_s is the client-side COPY of the same rows (Python generating them), "
        "for scale."
    )
    return figures
