"""Start the whole platform in one process group: web server and django-q2 worker together.

Migrates, syncs the schedules, collects static files, loads the demo data (development only),
then runs the production web server and the worker cluster until Ctrl-C, which stops both.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.server import web_command


class Command(BaseCommand):
    help = "Migrate, load demo data, and run the web server and the worker until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
        )
        parser.add_argument(
            "--port", type=int, default=8000, help="port to listen on (default: %(default)s)"
        )
        parser.add_argument("--no-demo", action="store_true", help="skip the demo data")
        parser.add_argument(
            "--no-worker", action="store_true", help="run the web server only (no django-q2)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
        call_command("migrate", interactive=False, verbosity=1, stdout=self.stdout)
        call_command("sync_schedules", stdout=self.stdout)
        call_command("collectstatic", interactive=False, verbosity=0)
        if settings.DEBUG and not options["no_demo"]:
            call_command("load_demo", stdout=self.stdout)

        bind = f"{options['host']}:{options['port']}"
        commands = {"web": web_command(host=options["host"], port=options["port"])}
        if not options["no_worker"]:
            commands["worker"] = [sys.executable, "manage.py", "qcluster"]

        # Ctrl-C (SIGINT) and a plain `kill` (SIGTERM) both stop everything cleanly, even when
        # the shell that started us ignores SIGINT (background jobs).
        # SIGHUP too (the terminal closed): the children, in groups of their own, do not get
        # it, so this command must stop them.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.default_int_handler)
        processes: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for name, command in commands.items():
                # Each child in a process group of its own: a terminal's Ctrl-C reaches only
                # this command, which stops each child once (django-q's cluster, signalled by
                # the terminal and again by us, tripped over its own shutdown).
                processes[name] = subprocess.Popen(
                    command,
                    cwd=settings.BASE_DIR,
                    env=child_environment(os.environ, host=options["host"], port=options["port"]),
                    process_group=0,
                )
            self.stdout.write(
                self.style.SUCCESS(
                    f"platform running on http://{bind}/ (admin: /admin/, API docs: /api/docs/, "
                    f"health: /healthz); Ctrl-C stops it"
                )
            )
            exited = self._wait_for_first_exit(processes)
        except KeyboardInterrupt:
            exited = None
            self.stdout.write("\nstopping...")
        finally:
            self._stop_all(processes)
        if exited is not None:
            name, code = exited
            raise CommandError(f"the {name} process exited with code {code}; stopped the rest")
        self.stdout.write("stopped")

    @staticmethod
    def _wait_for_first_exit(processes: dict[str, subprocess.Popen[bytes]]) -> tuple[str, int]:
        while True:
            for name, process in processes.items():
                code = process.poll()
                if code is not None:
                    return name, code
            time.sleep(0.5)

    @staticmethod
    def _stop_all(processes: dict[str, subprocess.Popen[bytes]], grace_seconds: float = 15) -> None:
        """SIGTERM to each child; after ``grace_seconds``, SIGKILL to each child's whole process
        group. A worker cluster is a tree (django-q's sentinel and its workers under the
        command): killing only the command, while a worker finished a task, left the rest
        running with no parent. Work in flight is safe to kill: it is rows with leases."""
        # A second Ctrl-C (or the one a wrapper such as `uv run` forwards) must not cut the
        # shutdown short and leave orphans behind.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # each child leads a group of its own
                process.wait()
            # Whatever the child left in its group (it exited, its own children did not).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)


# Listening on every address: the children reach the web server on loopback.
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


def child_environment(environ: Mapping[str, str], *, host: str, port: int) -> dict[str, str]:
    """The environment of the web server and the worker: ours, plus the mock providers' base
    URL on the address and port this command serves (unless set), so that ``--port`` moves
    them with the server (the worker fetches from them)."""
    child = dict(environ)
    if "WEBHOOKS_PROVIDER_BASE_URL" not in child:
        reach = "127.0.0.1" if host in WILDCARD_HOSTS else host
        if ":" in reach:  # an IPv6 address
            reach = f"[{reach}]"
        child["WEBHOOKS_PROVIDER_BASE_URL"] = f"http://{reach}:{port}/providers/"
    return child
