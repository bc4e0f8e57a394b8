"""The benchmark harness reads wrk's output, writes wrk's scripts and sets its sessions'
scheduling weight correctly."""

import os
import subprocess

import pytest

from bench.harness import autogroup_nice_set, parse_wrk, wrk_script

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:40000/empty
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.20ms    2.10ms  40.00ms   90.00%
    Req/Sec     3.90k   300.00     4.50k    70.00%
  Latency Distribution
     50%    3.95ms
     75%    4.80ms
     90%    6.10ms
     99%    1.52s
  77812 requests in 10.00s, 12.3MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:   7780.54
Transfer/sec:      1.23MB
"""


def test_parse_wrk_converts_units_and_counts_errors():
    assert parse_wrk(WRK_OUTPUT) == {
        "requests_per_s": 7780.5,
        "p50_ms": 3.95,
        "p99_ms": 1520.0,
        "requests": 77812,
        "non_2xx": 5,
        "errors": 3,
    }


def test_parse_wrk_microseconds_and_no_errors():
    output = WRK_OUTPUT.replace("3.95ms", "850.00us").replace(
        "  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 5\n",
        "",
    )
    figures = parse_wrk(output)
    assert figures["p50_ms"] == 0.85
    assert (figures["errors"], figures["non_2xx"]) == (0, 0)


def test_wrk_script_sets_method_body_and_headers():
    script = wrk_script(
        method="POST", body='{"a": 1}', headers={"Authorization": "s3cret", "X-A": "b"}
    )
    assert script == (
        "wrk.method = [==[POST]==]\n"
        'wrk.body = [==[{"a": 1}]==]\n'
        "wrk.headers[ [==[Authorization]==] ] = [==[s3cret]==]\n"
        "wrk.headers[ [==[X-A]==] ] = [==[b]==]\n"
    )


def test_autogroup_nice_set_gives_a_sessions_processes_one_nice_value():
    """The bench's sessions yield to the database's (decision 0077): the value is the one read
    back from the kernel, for the whole session's autogroup."""
    path = "/proc/self/autogroup"
    if not os.path.exists(path):
        pytest.skip("this kernel has no scheduler autogroups")
    child = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        assert autogroup_nice_set(child.pid, 5) is True
        with open(f"/proc/{child.pid}/autogroup") as handle:
            assert handle.read().split()[-2:] == ["nice", "5"]
    finally:
        child.kill()
        child.wait()
    assert autogroup_nice_set(child.pid, 5) is False  # gone: nothing to set, no error
