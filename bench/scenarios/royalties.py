"""Royalties: a generated 1M-row streaming log consolidated end to end on PostgreSQL.

Measured in the same run, on the same file:
- PostgreSQL's own ``COPY`` of the streaming log into an unindexed table of text columns
  (the ceiling: merely loading the bytes);
- ``manage.py consolidate_royalties`` (parse and validate every row, ``COPY`` the entries,
  aggregate per user and per track, store subscribers, tracks and labels, split the revenue)
  as a separate process, with its peak resident memory, at 1M and at 3M rows;
- the compat ``GET /report`` and ``GET /users/{id}`` under wrk, beside the empty-view ceiling.
"""

import os
import time
from pathlib import Path

from bench.harness import ROOT, Harness

NAME = "royalties"
DESCRIPTION = (
    "1,000,000 generated streams (100k users, 50k tracks, 500 labels) consolidated end to end "
    "on PostgreSQL, beside plain COPY of the same file; peak memory at 1M and 3M rows; compat "
    "report endpoints under wrk."
)
USERS, TRACKS, LABELS, SEED = 100_000, 50_000, 500, 7
DATA_DIR = ROOT / "var" / "bench" / "royalties"


def _generate(h: Harness, rows: int) -> Path:
    out = DATA_DIR / f"{rows}"
    if not (out / "streaming.csv").is_file():
        h.manage(
            "generate_streams",
            "--rows", str(rows), "--users", str(USERS), "--tracks", str(TRACKS),
            "--labels", str(LABELS), "--seed", str(SEED), "--out", str(out),
        )  # fmt: skip
    return out


def _plain_copy_seconds(h: Harness, streams: Path) -> float:
    with h.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS bench_royalties_plain_copy")
        conn.execute(
            "CREATE TABLE bench_royalties_plain_copy "
            "(date text, user_id text, region text, track_id text, seconds text)"
        )
        started = time.perf_counter()
        with conn.cursor() as cursor:
            sql = (
                "COPY bench_royalties_plain_copy FROM STDIN "
                "WITH (FORMAT csv, DELIMITER ';', HEADER true)"
            )
            with cursor.copy(sql) as copy, open(streams, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_royalties_plain_copy")
    return elapsed


def _consolidate(h: Harness, data: Path) -> dict:
    command = [
        h.python, "manage.py", "consolidate_royalties", "--no-progress",
        "--streams", str(data / "streaming.csv"), "--users", str(data / "users.csv"),
        "--tracks", str(data / "tracks.json"),
    ]  # fmt: skip
    peak_mb, wall_s = h.peak_rss_mb(command)
    with h.connect() as conn:
        run_id, status, seconds, rows, timings = h.one(
            conn,
            "SELECT id, status, EXTRACT(EPOCH FROM finished_at - started_at), rows, timings "
            "FROM royalties_run ORDER BY id DESC LIMIT 1",
        )
    if status != "succeeded":
        raise RuntimeError(f"royalties run {run_id} {status}")
    return {
        "run": run_id,
        "rows": rows,
        "run_seconds": round(float(seconds), 3),
        "command_seconds": wall_s,
        "peak_rss_mb": peak_mb,
        "phases_seconds": timings,
    }


def _clear_runs(h: Harness) -> None:
    with h.connect() as conn:
        conn.execute(
            "TRUNCATE royalties_entry, royalties_subscriber, royalties_track, royalties_label, "
            "royalties_run"
        )


def run(h: Harness) -> dict:
    h.prepare()
    one_m = _generate(h, 1_000_000)
    three_m = _generate(h, 3_000_000)
    _clear_runs(h)

    load_before = round(os.getloadavg()[0], 2)
    # Two samples of each 1M measurement, the faster one reported (the machine is shared).
    copy_samples = [_plain_copy_seconds(h, one_m / "streaming.csv") for _ in range(2)]
    copy_s = min(copy_samples)
    samples_1m = [_consolidate(h, one_m) for _ in range(2)]
    at_1m = min(samples_1m, key=lambda sample: sample["run_seconds"])
    at_1m["peak_rss_mb"] = max(sample["peak_rss_mb"] for sample in samples_1m)
    at_3m = _consolidate(h, three_m)
    rows_1m = at_1m["rows"]["loaded"]
    copy_rate = rows_1m / copy_s
    consolidation_rate = rows_1m / at_1m["run_seconds"]
    end_to_end_rate = rows_1m / at_1m["command_seconds"]

    # The reads are measured once the loads have settled, as clients read a report: the 4M
    # rows just written leave autovacuum and a checkpoint to run, which would otherwise share
    # the 2 cores with the server under test.
    with h.connect() as conn:
        conn.execute("VACUUM (ANALYZE) royalties_run, royalties_label, royalties_subscriber")
        conn.execute("CHECKPOINT")
    ceiling = h.ceiling()
    with h.server() as base:
        report = h.wrk(base + "/report")
        with h.connect() as conn:
            (user_id,) = h.one(
                conn,
                "SELECT user_id FROM royalties_subscriber WHERE run_id = %s AND seconds > 0 "
                "ORDER BY user_id LIMIT 1",
                [at_3m["run"]],
            )
        user = h.wrk(base + f"/users/{user_id}")
    _clear_runs(h)

    ceiling_rps = ceiling["requests_per_s"] or None
    return {
        "rows": rows_1m,
        "load_average_1m_before": load_before,
        "plain_copy_seconds": round(copy_s, 3),
        "plain_copy_samples_seconds": [round(sample, 3) for sample in copy_samples],
        "plain_copy_rows_per_s": round(copy_rate),
        "consolidation_1m": at_1m,
        "consolidation_1m_samples_seconds": [sample["run_seconds"] for sample in samples_1m],
        "consolidation_rows_per_s": round(consolidation_rate),
        "consolidation_vs_copy": round(consolidation_rate / copy_rate, 3),
        "end_to_end_rows_per_s": round(end_to_end_rate),
        "end_to_end_vs_copy": round(end_to_end_rate / copy_rate, 3),
        "consolidation_3m": at_3m,
        "peak_rss_3m_vs_1m": round(at_3m["peak_rss_mb"] / at_1m["peak_rss_mb"], 3),
        "compat_report": report,
        "compat_user": user,
        "ceiling": ceiling,
        "compat_report_vs_ceiling": round(report["requests_per_s"] / ceiling_rps, 3)
        if ceiling_rps
        else None,
        "compat_user_vs_ceiling": round(user["requests_per_s"] / ceiling_rps, 3)
        if ceiling_rps
        else None,
        "notes": (
            "Compare the ratios, not the seconds (load_average_1m_before says how busy the "
            "machine was). The faster of two samples is reported for COPY and for "
            "the 1M consolidation (both samples listed; peak memory is the larger of the two). "
            "run_seconds is the consolidation itself (run started -> finished, as stored); "
            "command_seconds is the whole manage.py process (Django start-up and the Arrow "
            "import, the run, the commit, the summary): end_to_end_* use it. phases_seconds says "
            "where the time goes; 'metadata and subscribers' is read in a thread while the "
            "server loads the log, so only the wait for it shows. Targets: consolidation_vs_copy "
            ">= 0.5 and peak_rss_3m_vs_1m <= 1.2 (memory grows with users and tracks, not rows). "
            "What limits the rate: the server. The log is read and checked by Arrow (C++) and "
            "sent as binary COPY while the next block is read, so the streaming-log phase is "
            "the server's COPY into the typed entries table with its primary key, which costs "
            "1.8-2.7x a plain COPY of the same file into text columns (probed on this machine: "
            "without the primary key 1.2-1.8x, the key built afterwards +0.2 s); storing 100k "
            "subscribers and 50k tracks is again server time (their unique indexes and WAL). "
            "The compat reads and their ceiling are measured after VACUUM (ANALYZE) of the "
            "read tables and a CHECKPOINT, so the loads' autovacuum and checkpoint do not run "
            "beside them: /report reads the latest run's key (one statement) and serves the "
            "labels from the process's cache; /users/{id} is one statement on the 3M run."
        ),
    }
