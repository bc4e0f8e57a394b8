"""Every admin page over production-sized tables on PostgreSQL (decision 0072).

Builds the tables of ``bench/data/admin_scale.sql`` (millions of events, sessions and webhook
rows; about a minute) once, in a database of its own (the bench database's name with
``_admin_scale``: these rows would slow every scenario run after it), then runs
``bench/admin_crawl.py``: every page the admin's registry reaches, its filter, sort and page
links, and one row's change, delete and history pages, each fetched once by a superuser in
process. Statements are cut at 30 s (``statement_timeout`` on the scenario's database for the
crawl), so a page that would run for minutes shows as a failure instead of holding the run.
Reported: pages, statuses, pages over 1 s, the median and the slowest pages, and the crawling
process's peak memory.
"""

import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.harness import ROOT, Harness

NAME = "admin_scale"
DESCRIPTION = (
    "Every admin page (from the registry) over 3,000,000 analytics and 2,000,000 ingestion "
    "events, 1,000,000 sessions and 200,000 webhook requests: seconds per page, peak memory."
)
DATA = ROOT / "bench" / "data" / "admin_scale.sql"
OPERATOR = "bench-admin-operator"
OWNER = "bench-admin-owner"
STATEMENT_TIMEOUT = "30s"


def _data_build(h: Harness) -> float:
    """Build the tables once (seconds taken; 0 when already there)."""
    with h.connect() as conn:
        (apps,) = h.one(conn, "SELECT count(*) FROM analytics_app WHERE name = 'big'")
        if apps:
            return 0.0
        started = time.perf_counter()
        for statement in Path(DATA).read_text().split(";\n"):
            code = "\n".join(
                line for line in statement.splitlines() if not line.startswith("--")
            ).strip()
            if code:
                conn.execute(code.encode())
        conn.execute("ANALYZE")
        return round(time.perf_counter() - started, 1)


def run(bench: Harness) -> dict:
    # A database of its own: the millions of rows here would slow every scenario run after
    # this one in the bench database (they run in name order, and this name comes first).
    parts = urlsplit(bench.database_url)
    own_url = parts._replace(path=parts.path + "_admin_scale").geturl()
    h = Harness(database_url=own_url, duration_s=bench.duration_s)
    h.prepare()
    h.manage("shell", "-c", (
        "from django.contrib.auth import get_user_model; U = get_user_model();"
        f"U.objects.filter(username='{OPERATOR}').exists() or "
        f"U.objects.create_superuser('{OPERATOR}', 'operator@example.org', 'bench-admin-pw-1');"
        f"U.objects.get_or_create(username='{OWNER}')"
    ))  # fmt: skip
    built = _data_build(h)
    name = urlsplit(h.database_url).path.lstrip("/")
    with h.connect() as conn:
        conn.execute(f"ALTER DATABASE \"{name}\" SET statement_timeout = '{STATEMENT_TIMEOUT}'")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bench.admin_crawl"],
            cwd=ROOT,
            env=h.env({"ADMIN_CRAWL_USER": OPERATOR, "DJANGO_ALLOWED_HOSTS": "testserver"}),
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        with h.connect() as conn:
            conn.execute(f'ALTER DATABASE "{name}" RESET statement_timeout')
    if result.returncode != 0:
        raise RuntimeError(f"admin crawl failed:\n{result.stderr[-3000:]}")
    crawl = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        "data_build_s": built,
        "pages": crawl["pages"],
        "statuses": crawl["statuses"],
        "pages_over_1s": crawl["pages_over_1s"],
        "median_s": crawl["median_s"],
        "slowest_s": crawl["slowest"][0][0],
        "peak_rss_mb": crawl["peak_rss_mb"],
        "notes": _notes(crawl),
    }


def _notes(crawl: dict) -> str:
    def listed(rows: list) -> str:
        return "; ".join(f"{seconds:.2f} s ({status}) `{url}`" for seconds, status, url in rows)

    failed = crawl["failed"]
    return (
        f"Statements cut at {STATEMENT_TIMEOUT}. A data build of 0 s: the tables of an earlier "
        "run were crawled. 403 answers are the delete pages of read-only "
        f"rows. Slowest pages: {listed(crawl['slowest'])}. "
        + (f"Failed: {listed(failed)}." if failed else "No page failed.")
    )
