"""Per-request cost of the hot endpoints, in process, with pyinstrument.

``python -m bench.profile [--requests N] [--html DIR]`` drives the WSGI application directly
(no HTTP server, no network) in one thread against the bench database, for /liveEvent, a
stream heartbeat, a start -> stop pair, a 1,000-event batch, the compat ``GET /report`` and
``GET /users/{id}``, analytics collect (one event and 1,000), a mock provider's answer
(``GET /providers/gas``), and the empty DRF view behind the
platform's middleware. It prints the mean wall time of one request of each kind, the CPU time
of this process within it (the Python side: steadier than wall time on a busy machine), and,
per kind, pyinstrument's call tree (what docs/performance.md's cost budget is read from). The
numbers include PostgreSQL's time (loopback), not HTTP parsing.
"""

import argparse
import io
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from wsgiref.types import StartResponse

from bench.harness import SERVER_ENV, Harness

ROOT = Path(__file__).resolve().parent.parent


def _start_response(status: list[str]) -> StartResponse:
    """A WSGI ``start_response`` that keeps the status line in ``status``."""

    def start_response(
        status_line: str, headers: list[tuple[str, str]], exc_info: object = None, /
    ) -> Callable[[bytes], object]:
        status.append(status_line)
        return _write_unused

    return start_response


def _write_unused(data: bytes) -> None:
    raise RuntimeError("Django answers through the iterable, never write()")


def _environ(method: str, path: str, *, body: bytes = b"", headers: dict | None = None) -> dict:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json" if body else "",
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def _measure(kinds: dict, *, only: list[str], requests: int, tree: bool, cpu_top: int = 0) -> None:
    """Print the mean time of one request of each kind (and its call tree with ``tree``, and
    the ``cpu_top`` functions that cost this process the most CPU, by cProfile)."""
    from pyinstrument import Profiler

    for name, fn in kinds.items():
        if only and name not in only:
            continue
        for _ in range(50):  # warm caches, connections, imports
            fn()
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(requests):
            fn()
        per_request = (time.perf_counter() - started) / requests * 1000
        cpu = (time.process_time() - cpu_started) / requests * 1000
        print(
            f"{name}: {per_request:.3f} ms per request, {cpu:.3f} ms of it on this process's "
            f"CPU (status {fn()})",
            flush=True,
        )
        if tree:
            profiler = Profiler(interval=0.0002)
            profiler.start()
            for _ in range(requests):
                fn()
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False), flush=True)
        if cpu_top:
            _cpu_profile(fn, requests=requests, top=cpu_top)


def _cpu_profile(fn: Callable[[], int], *, requests: int, top: int) -> None:
    """cProfile on the process's CPU clock: where the Python side spends, not where it waits."""
    import cProfile
    import pstats

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(requests):
        fn()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(top)


PROFILE_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.full_stack",
    "LOG_LEVEL": "ERROR",
    # Every kind is measured on its success path: a webhook request to a loopback callback is
    # accepted, and the mock providers answer.
    "WEBHOOKS_CALLBACK_ALLOWED_NETWORKS": "127.0.0.1/32",
    "WEBHOOKS_SUBMIT_RATE": "0",
    "PROVIDERS_MOCK_ENABLED": "true",
    "PROVIDERS_FAILURE_RATE": "0",
}


def _succeeded_run_user() -> str:
    """A user of the latest succeeded run. The compat reads answer from that run: without one,
    the shared fixtures are consolidated once, so they are measured answering 200, not 404."""
    from django.core.management import call_command

    from royalties.models import Run, Subscriber

    if not Run.objects.filter(status=Run.Status.SUCCEEDED).exists():
        fixtures = ROOT.parent / "shared" / "fixtures" / "royalties"
        call_command(
            "consolidate_royalties", "--no-progress", "--streams", str(fixtures / "streaming.csv"),
            "--users", str(fixtures / "users.csv"), "--tracks", str(fixtures / "tracks.json"),
        )  # fmt: skip
    subscriber = Subscriber.objects.filter(run__status=Run.Status.SUCCEEDED).first()
    if subscriber is None:
        raise RuntimeError("the succeeded run has no subscribers")
    return subscriber.user_id


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--only", default="", help="comma-separated kinds")
    parser.add_argument("--tree", action="store_true", help="print pyinstrument's call trees")
    parser.add_argument(
        "--cpu-top", type=int, default=0, metavar="N",
        help="print the N functions with the most CPU time of their own (cProfile)",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)

    harness = Harness()
    harness.prepare()
    os.environ.update(harness.env(PROFILE_ENV))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from rest_framework.authtoken.models import Token

    from config.wsgi import application as app  # what the server runs: the fast path first
    from streams.models import Viewer

    user, _ = get_user_model().objects.get_or_create(username="bench-profile")
    user.user_permissions.add(Permission.objects.get(codename="manage_sessions"))
    token = Token.objects.get_or_create(user=user)[0].key
    Viewer.objects.get_or_create(user_id="bench-profile-viewer", defaults={"max_streams": 100})
    auth = {"Authorization": f"Token {token}"}
    compat_user_id = _succeeded_run_user()
    secret = SERVER_ENV["INGESTION_SECRETS"]

    def call(environ: dict) -> int:
        status: list[str] = []
        chunks = app(environ, _start_response(status))
        b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        return int(status[0].split()[0])

    def start() -> str:
        body = b'{"user_id": "bench-profile-viewer"}'
        environ = _environ("POST", "/api/streams/sessions", body=body, headers=auth)
        status: list[str] = []
        chunks = app(environ, _start_response(status))
        payload = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        assert status[0].startswith("201"), (status, payload)
        import json

        return json.loads(payload)["id"]

    session_id = start()
    counter = iter(range(10**9))
    batch_body = (
        b"["
        + b",".join(
            b'{"userId": "u%d", "name": "add_revenue", "value": %d}' % (n % 100, n)
            for n in range(1000)
        )
        + b"]"
    )
    from analytics.services import app_register

    owner, _ = get_user_model().objects.get_or_create(username="bench-profile-owner")
    _app, issued = app_register(owner=owner, name="profile", domain="https://bench.example")
    key = {"x-api-key": issued.raw}
    collect_body = (
        b'{"event": "click", "userId": "user7", "device": "mobile", "url": '
        b'"https://example.com/p", "metadata": {"browser": "Chrome", "os": "Android"}}'
    )
    collect_batch = b"[" + b",".join([collect_body] * 1000) + b"]"
    kinds = {
        "empty_drf_view": lambda: call(_environ("GET", "/bench/empty")),
        "live_event": lambda: call(
            _environ(
                "POST",
                "/liveEvent",
                body=b'{"userId": "u1", "name": "add_revenue", "value": 7}',
                headers={
                    "Authorization": secret,
                    "Idempotency-Key": f"profile-{uuid.uuid4()}-{next(counter)}",
                },
            )
        ),
        "heartbeat": lambda: call(
            _environ("POST", f"/api/streams/sessions/{session_id}/heartbeat", headers=auth)
        ),
        "start_stop": lambda: call(
            _environ("DELETE", f"/api/streams/sessions/{start()}", headers=auth)
        ),
        "batch_1000": lambda: call(
            _environ(
                "POST", "/api/ingestion/events", body=batch_body, headers={"Authorization": secret}
            )
        ),
        "collect": lambda: call(
            _environ("POST", "/api/analytics/collect", body=collect_body, headers=key)
        ),
        "collect_batch_1000": lambda: call(
            _environ("POST", "/api/analytics/collect", body=collect_batch, headers=key)
        ),
        "post_webhook": lambda: call(
            _environ(
                "POST",
                "/webhook",
                body=b'{"provider": ["gas", "internet"], "callbackUrl": "http://127.0.0.1:9/h"}',
            )
        ),
        "mock_provider": lambda: call(_environ("GET", "/providers/gas")),
        "compat_report": lambda: call(_environ("GET", "/report")),
        "compat_user": lambda: call(_environ("GET", f"/users/{compat_user_id}")),
    }
    _measure(kinds, only=[k for k in args.only.split(",") if k], requests=args.requests,
             tree=args.tree, cpu_top=args.cpu_top)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
