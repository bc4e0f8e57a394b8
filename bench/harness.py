"""The benchmark harness: a PostgreSQL bench database, the production server, wrk, results.

Scenarios (``bench/scenarios/<name>.py``) receive a ``Harness`` and return a dict of figures;
``python -m bench <name>`` stores it in ``bench/results/<name>.json`` and re-renders
``docs/performance.md``. Every figure that depends on the machine is reported beside a
reference measured in the same run (the empty-view ceiling, PostgreSQL's COPY), because these
machines are noisy and only ratios compare across runs.
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, LiteralString
from urllib.parse import urlsplit

import psycopg
import requests

from config.server import web_command

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/platform_bench"

# Production mode with non-default secrets: the server runs exactly as it would in production.
SERVER_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production-0123456789",
    "INGESTION_SECRETS": "bench-ingestion-secret",
    "WEBHOOKS_SIGNING_SECRET": "whsec_bench_signing_secret",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_SECURE_COOKIES": "false",
    "LOG_LEVEL": "WARNING",
}

# The server the platform runs in production (docs/decisions/0001-web-server.md).
PLATFORM_SERVER = "granian"
# The nice value of every scheduler autogroup the bench runs in (its own session, each
# server's): together they yield CPU to PostgreSQL's session, as a deployment that shares a
# host with its database gives the database the larger share; among themselves they are
# equals, as before (docs/decisions/0077-bench-yields-to-the-database.md). 0: as started.
AUTOGROUP_NICE = int(os.environ.get("BENCH_AUTOGROUP_NICE", "5"))

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def free_port() -> int:
    """A free loopback port: the first free one of ``BENCH_PORTS`` ("8150-8159") if set."""
    span = os.environ.get("BENCH_PORTS", "")
    if span:
        first, _, last = span.partition("-")
        for port in range(int(first), int(last or first) + 1):
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        raise RuntimeError(f"no free port in BENCH_PORTS={span}")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def autogroup_nice_set(pid: int, nice: int) -> bool:
    """Set the nice value of the scheduler's autogroup of ``pid``'s session (Linux with
    ``CONFIG_SCHED_AUTOGROUP``): the CPU share all its processes take together against other
    sessions'. False where there is none or it cannot be set (the server then runs as is)."""
    try:
        with open(f"/proc/{pid}/autogroup", "w") as handle:
            handle.write(str(nice))
    except OSError:
        return False
    return True


def parse_wrk(output: str) -> dict:
    """Requests/s, latency percentiles, counts and errors from ``wrk --latency`` output."""

    def latency(label: str) -> float | None:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        return round(float(match.group(1)) * _UNIT_MS[match.group(2)], 3) if match else None

    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "requests_per_s": round(float(rps.group(1)), 1) if rps else 0.0,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "requests": int(total.group(1)) if total else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "errors": sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
    }


def lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def wrk_script(*, method: str, body: str | None, headers: dict[str, str] | None) -> str:
    """A wrk Lua script sending one fixed request."""
    lines = [f"wrk.method = {lua_string(method)}"]
    if body is not None:
        lines.append(f"wrk.body = {lua_string(body)}")
    for name, value in (headers or {}).items():
        # The spaces matter: `[[==[` would open a Lua long string, not index the table.
        lines.append(f"wrk.headers[ {lua_string(name)} ] = {lua_string(value)}")
    return "\n".join(lines) + "\n"


class Harness:
    def __init__(self, *, database_url: str | None = None, duration_s: int = 10) -> None:
        self.database_url = database_url or os.environ.get(
            "BENCH_DATABASE_URL", DEFAULT_DATABASE_URL
        )
        self.duration_s = duration_s
        self.python = sys.executable
        self._prepared = False

    # --- environment ------------------------------------------------------------------------

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {**os.environ, **SERVER_ENV, "DATABASE_URL": self.database_url}
        env.pop("REDIS_URL", None)
        env.update(extra or {})
        return env

    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [self.python, "manage.py", *args],
            cwd=ROOT,
            env=self.env(env),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def prepare(self) -> None:
        """Create (if missing) and migrate the bench database; collect static files; wrk."""
        if self._prepared:
            return
        self.ensure_wrk()
        parts = urlsplit(self.database_url)
        name = parts.path.lstrip("/")
        admin_url = parts._replace(path="/postgres").geturl()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        self._prepared = True

    @staticmethod
    def ensure_wrk() -> str:
        path = shutil.which("wrk")
        if path:
            return path
        print("wrk not found: installing it from Debian's packages", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
        path = shutil.which("wrk")
        if not path:
            raise RuntimeError("wrk could not be installed (apt-get install wrk)")
        return path

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.database_url, autocommit=True)

    @staticmethod
    def one(
        conn: psycopg.Connection, sql: LiteralString, params: Sequence[object] = ()
    ) -> tuple[Any, ...]:
        """The row a query must return (RuntimeError naming the query when there is none)."""
        row = conn.execute(sql, params).fetchone()
        if row is None:
            raise RuntimeError(f"no row from: {sql}")
        return row

    # --- servers ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def server(
        self,
        *,
        settings: str = "config.settings",
        app: str = "config.wsgi:application",
        kind: str = PLATFORM_SERVER,
        workers: int | None = None,
        threads: int | None = None,
        env: dict[str, str] | None = None,
        probe_path: str = "/healthz",
    ) -> Iterator[str]:
        """Run the production server on a free loopback port; yield its base URL."""
        self.prepare()
        port = free_port()
        cores = os.cpu_count() or 2
        if kind == "granian":
            command = web_command(
                host="127.0.0.1", port=port, workers=workers or cores, threads=threads, app=app
            )
        elif kind in ("gunicorn", "gunicorn-gthread"):
            command = [
                self.python, "-m", "gunicorn", app,
                "--bind", f"127.0.0.1:{port}", "--workers", str(workers or cores * 2 + 1),
                "--log-level", "warning",
            ]  # fmt: skip
            if kind == "gunicorn-gthread":
                command += ["--worker-class", "gthread", "--threads", "4"]
        else:
            raise ValueError(f"unknown server kind {kind!r}")
        with tempfile.TemporaryFile(mode="w+") as log:
            yield from self._serve(command, settings, env, port, probe_path, log)

    def _serve(self, command, settings, env, port, probe_path, log) -> Iterator[str]:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env({"DJANGO_SETTINGS_MODULE": settings, **(env or {})}),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            autogroup_nice_set(process.pid, AUTOGROUP_NICE)
            self._wait_until_up(process, base + probe_path, log)
            yield base
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    @staticmethod
    def _wait_until_up(process: subprocess.Popen, url: str, log) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(
                    f"server exited with {process.returncode}:\n{log.read()[-3000:]}"
                )
            try:
                requests.get(url, timeout=10)
                return  # any HTTP answer (healthz is 503 without a worker) means it serves
            except requests.RequestException:
                time.sleep(0.2)  # a cold worker on a loaded machine may take seconds
        raise RuntimeError(f"server did not answer {url} within 180 s")

    # --- load -------------------------------------------------------------------------------

    def wrk(
        self,
        url: str,
        *,
        method: str = "GET",
        body: str | None = None,
        headers: dict[str, str] | None = None,
        connections: int = 32,
        duration_s: int | None = None,
        threads: int = 2,
        script: str | None = None,
        warmup_s: int = 2,
    ) -> dict:
        """Drive ``url`` with wrk for a bounded time; return its figures.

        ``script`` is the text of a wrk Lua script for custom flows; otherwise one is built
        from method, body and headers. A short unmeasured run first (``warmup_s``) lets every
        server worker import its code and open its database connection.
        """
        wrk = self.ensure_wrk()
        if script is None:
            script = wrk_script(method=method, body=body, headers=headers)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
            handle.write(script)
            script_path = handle.name

        def command(seconds: int) -> list[str]:
            return [
                wrk, "--latency", "-t", str(threads), "-c", str(connections),
                "-d", f"{seconds}s", "--timeout", "10s", "-s", script_path, url,
            ]  # fmt: skip

        try:
            if warmup_s:
                subprocess.run(command(warmup_s), capture_output=True, check=True)
            result = subprocess.run(
                command(duration_s or self.duration_s),
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            os.unlink(script_path)
        figures = parse_wrk(result.stdout)
        figures["connections"] = connections
        return figures

    def ceiling(self, *, connections: int = 32, kind: str = PLATFORM_SERVER) -> dict:
        """The empty Django view with no middleware, served now by the same server kind."""
        with self.server(
            app="bench.ceiling_app:application", kind=kind, probe_path="/empty"
        ) as base:
            return self.wrk(base + "/empty", connections=connections)

    # --- memory -----------------------------------------------------------------------------

    def peak_rss_mb(
        self, command: list[str], *, env: dict[str, str] | None = None
    ) -> tuple[float, float]:
        """Run a command to completion; return (peak resident memory in MB, seconds)."""
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} exited {process.returncode}: "
                f"{process.stderr.read().decode()[-3000:] if process.stderr else ''}"
            )
        return round(usage.ru_maxrss / 1024, 1), round(elapsed, 3)
