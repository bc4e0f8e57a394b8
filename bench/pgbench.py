"""PostgreSQL's own ceilings, measured with pgbench in the same run as the figures beside them
(no HTTP, no Python): the most an endpoint that stores the same rows the same way can reach on
this machine now.

Each runs a one-statement script at ``connections`` clients against a scratch copy of a table
(its columns, defaults, indexes and constraints), dropped afterwards.
"""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from bench.harness import Harness


def durable_insert_ceiling(h: "Harness", *, table: str, values: str, connections: int = 32) -> dict:
    """One-row INSERT + COMMIT per transaction: the ceiling of an endpoint that commits one row
    per request. ``values`` is the VALUES list, in which ``:client_id`` numbers the client."""
    figures = _scratch_run(h, table, "INSERT INTO {probe} VALUES (" + values + ");", connections)
    if "skipped" in figures:
        return figures
    return {
        "commits_per_s": figures["tps"],
        "latency_avg_ms": figures["latency_avg_ms"],
        "connections": connections,
    }


def copy_ceiling(
    h: "Harness", *, table: str, columns: str, text: str, rows: int, connections: int = 32
) -> dict:
    """One ``COPY`` of ``rows`` rows (``text``, in COPY's text format for ``columns``) and its
    commit per transaction, the server reading the rows from a file: the ceiling of an
    endpoint that stores a batch of these rows by one COPY (which must also receive them)."""
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as data:
        data.write(text)
    os.chmod(data.name, 0o644)  # read by the server's own user
    try:
        statement = "COPY {probe} (" + columns + ") FROM '" + data.name + "';"
        figures = _scratch_run(h, table, statement, connections)
    finally:
        os.unlink(data.name)
    if "skipped" in figures:
        return figures
    return {
        "copies_per_s": figures["tps"],
        "rows_per_copy": rows,
        "rows_per_s": round(figures["tps"] * rows) if figures["tps"] else None,
        "latency_avg_ms": figures["latency_avg_ms"],
        "connections": connections,
    }


def _pgbench() -> Path | None:
    found = shutil.which("pgbench")
    if found:
        return Path(found)
    return next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True)), None)


def _scratch_run(h: "Harness", table: str, statement: str, connections: int) -> dict:
    """pgbench running ``statement`` (``{probe}`` names the scratch table) for the run's
    duration; its transactions per second and mean latency."""
    pgbench = _pgbench()
    if pgbench is None:
        return {"skipped": "pgbench not found"}
    probe = f"bench_probe_{table}"
    with h.connect() as conn:
        conn.execute(f"DROP TABLE IF EXISTS {probe}")
        conn.execute(f"CREATE TABLE {probe} (LIKE {table} INCLUDING ALL)")
    url = urlsplit(h.database_url)
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
            script.write(statement.replace("{probe}", probe) + "\n")
            script.flush()
            result = subprocess.run(
                [
                    str(pgbench), "-n", "-c", str(connections), "-j", "2",
                    "-T", str(h.duration_s), "-f", script.name,
                    "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432),
                    "-U", url.username or "postgres", url.path.lstrip("/"),
                ],
                capture_output=True, text=True, timeout=h.duration_s + 120, check=True,
            )  # fmt: skip
    finally:
        with h.connect() as conn:
            conn.execute(f"DROP TABLE IF EXISTS {probe}")
    tps = re.search(r"tps = ([\d.]+)", result.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", result.stdout)
    return {
        "tps": round(float(tps.group(1)), 1) if tps else None,
        "latency_avg_ms": float(latency.group(1)) if latency else None,
    }
