"""gunicorn settings for the production web server (see docs/decisions/0001-web-server.md)."""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
timeout = 120
graceful_timeout = 20
keepalive = 5
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
errorlog = "-"
