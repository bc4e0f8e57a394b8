"""Server connections stay flat under 500 sequential requests: runserver and the start command.

``manage.py runserver`` serves each request on a new thread; before the connection pool, every
thread kept its own PostgreSQL connection open (CONN_MAX_AGE) and a long test run exhausted
``max_connections``. This scenario starts ``manage.py runserver`` and then the README's start
command (``manage.py start --no-demo --no-worker``: granian) against the bench database, sends
500 sequential requests to each (the open compat read, an authenticated API read and a
/liveEvent write, in turn), and counts the server's connections to the database in
``pg_stat_activity`` after a warm-up and at the end: the growth must be 0.
"""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

import requests

from bench.harness import ROOT, SERVER_ENV, Harness, free_port

NAME = "connections"
DESCRIPTION = (
    "500 sequential requests against manage.py runserver and the start command on PostgreSQL: "
    "the server's database connections before and after (growth must be 0)."
)
REQUESTS = 500
WARMUP = 30


def _server_connections(h: Harness) -> int:
    name = urlsplit(h.database_url).path.lstrip("/")
    with h.connect() as conn:
        (count,) = h.one(
            conn,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
    return count


@contextlib.contextmanager
def _serve(h: Harness, command: list[str], port: int):
    env = h.env({"DJANGO_DEBUG": "false"})
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"server exited:\n{log.read()[-3000:]}")
                try:
                    requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except requests.RequestException:
                    if time.monotonic() > deadline:
                        raise RuntimeError("server did not start") from None
                    time.sleep(0.3)
            yield f"http://127.0.0.1:{port}"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _token(h: Harness) -> str:
    code = (
        "from django.contrib.auth import get_user_model;"
        "from django.contrib.auth.models import Permission;"
        "from rest_framework.authtoken.models import Token;"
        "u, _ = get_user_model().objects.get_or_create(username='bench-connections');"
        "u.user_permissions.add(Permission.objects.get(codename='view_viewer'));"
        "print(Token.objects.get_or_create(user=u)[0].key)"
    )
    return h.manage("shell", "-c", code).strip().splitlines()[-1]


def _drive(h: Harness, base: str, token: str) -> dict:
    # A new HTTP connection per request: runserver then serves each on a new thread.
    session = requests
    calls = [
        lambda: session.get(base + "/add-stream/user/bench-v0001"),
        lambda: session.get(
            base + "/api/streams/viewers/bench-v0001", headers={"Authorization": f"Token {token}"}
        ),
        lambda: session.post(
            base + "/liveEvent",
            json={"userId": "bench-connections", "name": "add_revenue", "value": 1},
            headers={"Authorization": SERVER_ENV["INGESTION_SECRETS"]},
        ),
    ]
    statuses: dict[int, int] = {}
    before = None
    for n in range(REQUESTS):
        if n == WARMUP:
            before = _server_connections(h)
        response = calls[n % len(calls)]()
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    after = _server_connections(h)
    if before is None:
        raise RuntimeError(f"WARMUP ({WARMUP}) must be below REQUESTS ({REQUESTS})")
    return {
        "requests": REQUESTS,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "connections_after_warmup": before,
        "connections_at_end": after,
        "growth": after - before,
    }


def run(h: Harness) -> dict:
    h.prepare()
    h.manage("shell", "-c", "from streams.services import viewer_set_limit;"
             "viewer_set_limit(user_id='bench-v0001', max_streams=3)")  # fmt: skip
    token = _token(h)
    figures: dict = {}
    port = free_port()
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    with _serve(h, command, port) as base:
        figures["runserver"] = _drive(h, base, token)
    port = free_port()
    command = [
        sys.executable, "manage.py", "start", "--no-demo", "--no-worker", "--port", str(port),
    ]  # fmt: skip
    with _serve(h, command, port) as base:
        figures["start_command"] = _drive(h, base, token)
    figures["notes"] = (
        "Connections are counted in pg_stat_activity for the bench database (the counting "
        "connection excluded) after 30 warm-up requests and after all 500. Each web process "
        "borrows from its own psycopg pool (DATABASE_POOL_MIN_SIZE / DATABASE_POOL_MAX_SIZE), "
        "so the count is bounded by processes x pool size whatever the number of threads."
    )
    return figures
