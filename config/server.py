"""The production web server command line (granian, WSGI): one definition for every launcher.

``manage.py start`` and the benchmarks both build the server from here; see
docs/decisions/0001-web-server.md for why granian and why one worker per core.
"""

import os
import sys


def web_workers_default() -> int:
    return int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))


def web_threads_default() -> int:
    return int(os.environ.get("WEB_THREADS", 32))


def web_command(
    *,
    host: str,
    port: int,
    workers: int | None = None,
    threads: int | None = None,
    app: str = "config.wsgi:application",
) -> list[str]:
    return [
        sys.executable, "-m", "granian",
        "--interface", "wsgi",
        "--host", host,
        "--port", str(port),
        "--workers", str(workers or web_workers_default()),
        "--blocking-threads", str(threads or web_threads_default()),
        "--no-ws",
        "--log-level", os.environ.get("WEB_LOG_LEVEL", "warning"),
        app,
    ]  # fmt: skip
