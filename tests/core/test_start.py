"""`manage.py start` runs the web server and the worker together; Ctrl-C stops both."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import requests
from django.conf import settings

from bench.harness import free_port
from core.management.commands.start import child_environment


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "ctrl_c",
    ["to the command", "to its process group, as a terminal sends it", "hang-up"],
)
def test_start_serves_with_a_worker_and_ctrl_c_stops_everything(test_database_url, ctrl_c):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": test_database_url, "Q_WORKERS": "1"}
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "start", "--port", str(port), "--no-demo"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a command started in a terminal
    )
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 90
        body = None
        while time.monotonic() < deadline:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                body = response.json()
                if response.status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            time.sleep(0.5)
        assert body is not None
        assert body["status"] == "ok", body
        assert body["worker"]["clusters"] == 1
        children = psutil.Process(process.pid).children(recursive=True)
        names = " ".join(" ".join(child.cmdline()) for child in children)
        assert "granian" in names
        assert "qcluster" in names
        # The worker fetches the mock providers from the port this start serves.
        worker = next(child for child in children if "qcluster" in " ".join(child.cmdline()))
        provider_url = worker.environ()["WEBHOOKS_PROVIDER_BASE_URL"]
        assert provider_url == f"http://127.0.0.1:{port}/providers/"

        if ctrl_c == "to the command":
            process.send_signal(signal.SIGINT)
        elif ctrl_c == "hang-up":  # the terminal closed
            process.send_signal(signal.SIGHUP)
        else:
            os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert output.rstrip().endswith("stopped")
    assert "Traceback" not in output
    psutil.wait_procs(children, timeout=10)
    assert [child.pid for child in children if child.is_running()] == []


@pytest.mark.parametrize(
    ("host", "environ", "expected"),
    [
        ("127.0.0.1", {}, "http://127.0.0.1:8123/providers/"),
        ("0.0.0.0", {}, "http://127.0.0.1:8123/providers/"),
        ("::", {}, "http://127.0.0.1:8123/providers/"),
        ("::1", {}, "http://[::1]:8123/providers/"),
        ("10.0.0.5", {}, "http://10.0.0.5:8123/providers/"),
        ("127.0.0.1", {"WEBHOOKS_PROVIDER_BASE_URL": "https://p.example/"}, "https://p.example/"),
    ],
)
def test_the_children_fetch_the_mock_providers_where_start_serves(host, environ, expected):
    child = child_environment({"KEPT": "1", **environ}, host=host, port=8123)
    assert child == {"KEPT": "1", "WEBHOOKS_PROVIDER_BASE_URL": expected}


# A child that leaves a process behind in its group, as a worker cluster's sentinel and workers
# are left when the cluster's own process goes first: the grandchild ignores SIGTERM.
_LEAVES_A_GRANDCHILD = "trap '' TERM; sleep 300 & echo $! ; {child_on_term}"


@pytest.mark.parametrize(
    ("child_on_term", "grace_seconds"),
    [
        # The child stops at SIGTERM (its grandchild does not): the group is emptied after.
        ("trap 'exit 0' TERM; wait", 15),
        # The child ignores SIGTERM too: the grace runs out and the group is killed.
        ("trap '' TERM; wait", 1),
    ],
)
def test_stop_leaves_nothing_of_a_childs_process_group(child_on_term, grace_seconds):
    from core.management.commands.start import Command

    script = _LEAVES_A_GRANDCHILD.format(child_on_term=child_on_term)
    child = subprocess.Popen(
        ["bash", "-c", script], stdout=subprocess.PIPE, text=True, process_group=0
    )
    grandchild = psutil.Process(int(child.stdout.readline()))  # type: ignore[union-attr]
    assert grandchild.is_running()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    started = time.monotonic()
    try:
        Command._stop_all({"worker": child}, grace_seconds=grace_seconds)  # type: ignore[dict-item]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert child.returncode is not None
    psutil.wait_procs([grandchild], timeout=5)
    assert not grandchild.is_running()
    assert time.monotonic() - started < grace_seconds + 5
