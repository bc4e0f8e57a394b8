"""Stream sessions: start -> heartbeat -> stop cycles through the service API, on PostgreSQL.

Two runs, 50 wrk connections each: starts spread over 1,000 viewers, and every start on one
viewer (limit 3, the contended case: the viewer's row lock serialises them and most starts are
refused with 409). While wrk runs, a separate PostgreSQL connection polls the invariant (no
viewer with more active sessions than their limit) as fast as it can; every run reports how
many polls it made and how many violations it saw (must be 0). The empty-view ceiling is
measured in the same run.
"""

import csv
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench.harness import Harness, lua_string

NAME = "streams"
DESCRIPTION = (
    "Stream sessions start -> heartbeat -> stop through the API on PostgreSQL, 50 connections: "
    "over 1,000 viewers, all on one viewer (limit 3, contended), and heartbeats alone over "
    "1,000 live sessions; a separate connection "
    "polls the at-most-N invariant during every run."
)
CONNECTIONS = 50
VIEWERS = 1000
LIMIT = 3
HOT_VIEWER = "bench-hot"
WARMUP_DRAIN_SECONDS = 4
MONITOR_INTERVAL_SECONDS = 0.02

# Active sessions above the viewer's limit, judged by the database clock: must stay empty.
OVER_LIMIT_SQL = """
SELECT v.user_id, count(*) AS active, COALESCE(v.max_streams, %(default)s) AS lim
FROM streams_streamsession s JOIN streams_viewer v ON v.id = s.viewer_id
WHERE s.ended_at IS NULL AND s.expires_at > statement_timestamp()
GROUP BY v.id, v.user_id, v.max_streams
HAVING count(*) > COALESCE(v.max_streams, %(default)s)
"""
MAX_ACTIVE_SQL = """
SELECT COALESCE(max(n), 0) FROM (
    SELECT count(*) AS n FROM streams_streamsession
    WHERE ended_at IS NULL AND expires_at > statement_timestamp() GROUP BY viewer_id
) per_viewer
"""

# One wrk thread keeps a queue of follow-up requests: a 201 queues the session's heartbeat,
# a heartbeat's 200 queues its stop; with nothing queued the next request is a new start.
# Responses are told apart by status (201/409 start, 200 heartbeat, 204 stop).
LUA = """
local token, viewers, hot, counts_path = %(token)s, %(viewers)d, %(hot)s, %(counts_path)s
local queue, head, tail, serial = {}, 1, 0, 0
start201, start409, hb200, stop204, other = 0, 0, 0, 0, 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(tid * 7919 + os.time())
  wrk.headers["Authorization"] = "Token " .. token
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  if head <= tail then
    local item = queue[head]
    queue[head] = nil
    head = head + 1
    if item[1] == "hb" then
      return wrk.format("POST", "/api/streams/sessions/" .. item[2] .. "/heartbeat", nil, "")
    end
    return wrk.format("DELETE", "/api/streams/sessions/" .. item[2], nil, nil)
  end
  serial = serial + 1
  local user
  if hot ~= "" then user = hot else user = string.format("bench-v%%04d", math.random(viewers)) end
  local body = string.format(
    '{"user_id":"%%s","device_id":"t%%d-%%d","content_id":"c1"}', user, tid, serial)
  return wrk.format("POST", "/api/streams/sessions", nil, body)
end

local function push(kind, id)
  tail = tail + 1
  queue[tail] = {kind, id}
end

function response(status, headers, body)
  if status == 201 then
    start201 = start201 + 1
    push("hb", string.match(body, '"id":"([0-9a-f%%-]+)"'))
  elseif status == 409 then
    start409 = start409 + 1
  elseif status == 200 then
    hb200 = hb200 + 1
    push("stop", string.match(body, '"id":"([0-9a-f%%-]+)"'))
  elseif status == 204 then
    stop204 = stop204 + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local totals = {start201 = 0, start409 = 0, hb200 = 0, stop204 = 0, other = 0}
  for _, thread in ipairs(threads) do
    for key, _ in pairs(totals) do
      totals[key] = totals[key] + thread:get(key)
    end
  end
  local out = io.open(counts_path, "w")
  for key, value in pairs(totals) do out:write(key, " ", value, "\\n") end
  out:close()
end
"""


class InvariantMonitor:
    """Polls the over-limit query from its own connection while a run is under way."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.polls = 0
        self.violations = 0
        self.examples: list = []
        self.max_active = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.h.connect() as conn:
            while not self._stop.is_set():
                over = conn.execute(OVER_LIMIT_SQL, {"default": LIMIT}).fetchall()
                (max_active,) = self.h.one(conn, MAX_ACTIVE_SQL)
                self.polls += 1
                self.max_active = max(self.max_active, max_active)
                if over:
                    self.violations += len(over)
                    self.examples.extend(over[:3])
                time.sleep(MONITOR_INTERVAL_SECONDS)

    def __enter__(self) -> "InvariantMonitor":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _prepare(h: Harness) -> str:
    h.prepare()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "viewers.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["user_id", "max_streams"])
            writer.writerows([f"bench-v{n:04d}", LIMIT] for n in range(1, VIEWERS + 1))
            writer.writerow([HOT_VIEWER, LIMIT])
        h.manage("import_viewers", str(path))
    code = (
        "from django.contrib.auth import get_user_model;"
        "from django.contrib.auth.models import Permission;"
        "from rest_framework.authtoken.models import Token;"
        "u, _ = get_user_model().objects.get_or_create(username='bench-streams');"
        "u.user_permissions.add(Permission.objects.get(codename='manage_sessions'));"
        "print(Token.objects.get_or_create(user=u)[0].key)"
    )
    return h.manage("shell", "-c", code).strip().splitlines()[-1]


def _clear_sessions(h: Harness) -> None:
    with h.connect() as conn:
        conn.execute("DELETE FROM streams_streamsession")
        conn.execute("UPDATE streams_viewer SET refusal_count = 0, last_refused_at = NULL")


def _run_case(h: Harness, base: str, token: str, *, hot: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        counts_path = Path(tmp) / "counts.txt"
        script = LUA % {
            "token": lua_string(token),
            "viewers": VIEWERS,
            "hot": lua_string(hot),
            "counts_path": lua_string(str(counts_path)),
        }
        # A short unmeasured run warms every worker; its unfinished sessions are then removed
        # so that the measured run starts from empty viewers.
        h.wrk(base + "/api/streams/sessions", script=script, connections=CONNECTIONS,
              duration_s=2, warmup_s=0)  # fmt: skip
        time.sleep(WARMUP_DRAIN_SECONDS)  # requests the server had queued when wrk stopped
        _clear_sessions(h)
        load_before = round(os.getloadavg()[0], 2)
        with InvariantMonitor(h) as monitor:
            started = time.monotonic()
            figures = h.wrk(
                base + "/api/streams/sessions", script=script, connections=CONNECTIONS, warmup_s=0
            )
            elapsed = time.monotonic() - started
        lines = counts_path.read_text().splitlines()
    counts = {key: int(value) for key, value in (line.split() for line in lines)}
    figures.update(
        {
            "responses": counts,
            "completed_cycles_per_s": round(counts["stop204"] / h.duration_s, 1),
            "invariant_polls": monitor.polls,
            "invariant_violations": monitor.violations,
            "violation_examples": [list(row) for row in monitor.examples],
            "max_active_per_viewer_seen": monitor.max_active,
            "seconds": round(elapsed, 1),
            "load_average_1m_before": load_before,
        }
    )
    return figures


HEARTBEAT_LUA = """
local token, ids_path = %(token)s, %(ids_path)s
local ids = {}
for line in io.lines(ids_path) do table.insert(ids, line) end
function init(args)
  math.randomseed(os.time() + math.random(100000))
  wrk.headers["Authorization"] = "Token " .. token
end
function request()
  local id = ids[math.random(#ids)]
  return wrk.format("POST", "/api/streams/sessions/" .. id .. "/heartbeat", nil, "")
end
"""


def _heartbeat_alone(h: Harness, base: str, token: str) -> dict:
    """Heartbeats only, spread over one live session of each of the 1,000 viewers."""
    _clear_sessions(h)
    with h.connect() as conn:
        rows = conn.execute(
            "INSERT INTO streams_streamsession "
            "(id, viewer_id, device_id, content_id, started_at, last_heartbeat, expires_at, "
            "end_reason) "
            "SELECT gen_random_uuid(), id, 'hb', 'c1', now(), now(), now() + interval '1 hour', ''"
            " FROM streams_viewer WHERE user_id LIKE 'bench-v%%' RETURNING id"
        ).fetchall()
    with tempfile.TemporaryDirectory() as tmp:
        ids_path = Path(tmp) / "ids.txt"
        ids_path.write_text("".join(f"{row[0]}\n" for row in rows))
        script = HEARTBEAT_LUA % {
            "token": lua_string(token),
            "ids_path": lua_string(str(ids_path)),
        }
        figures = h.wrk(base + "/api/streams/sessions", script=script, connections=CONNECTIONS)
    figures["sessions"] = len(rows)
    _clear_sessions(h)
    return figures


def _one_client(base: str, token: str, *, cycles: int = 150) -> dict:
    """Median latency of each call for a single sequential client: the cost of one operation
    without any queueing (what 50 connections then divide among the web workers)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    times: dict[str, list[float]] = {"start": [], "heartbeat": [], "stop": [], "compat": []}

    def timed(name: str, call, *args, **kwargs) -> requests.Response:
        started = time.perf_counter()
        response = call(*args, **kwargs)
        times[name].append(time.perf_counter() - started)
        return response

    for n in range(cycles):
        body = {"user_id": f"bench-v{n % VIEWERS + 1:04d}", "device_id": f"seq-{n}"}
        session_id = timed("start", session.post, base + "/api/streams/sessions", json=body)
        session_id = session_id.json()["id"]
        timed("heartbeat", session.post, f"{base}/api/streams/sessions/{session_id}/heartbeat")
        timed("stop", session.delete, f"{base}/api/streams/sessions/{session_id}")
        timed("compat", session.get, base + "/add-stream/user/bench-v0001")
    skip = cycles // 10  # first calls warm the worker
    return {
        f"{name}_p50_ms": round(statistics.median(values[skip:]) * 1000, 2)
        for name, values in times.items()
    }


def run(h: Harness) -> dict:
    token = _prepare(h)
    figures: dict = {}
    with h.server() as base:
        _clear_sessions(h)
        figures["one_sequential_client"] = _one_client(base, token)
        figures["spread_1000_viewers"] = _run_case(h, base, token, hot="")
        figures["contended_one_viewer"] = _run_case(h, base, token, hot=HOT_VIEWER)
        figures["heartbeat_alone"] = _heartbeat_alone(h, base, token)
    # More web workers than cores: more transactions of the hot viewer really wait on its row
    # lock at the same time (the guarantee under database-level contention, not throughput).
    with h.server(workers=8) as base:
        figures["contended_one_viewer_8_workers"] = _run_case(h, base, token, hot=HOT_VIEWER)
    _clear_sessions(h)
    ceiling = h.ceiling(connections=CONNECTIONS)
    figures["ceiling_empty_view"] = ceiling
    cases = (
        "spread_1000_viewers",
        "contended_one_viewer",
        "contended_one_viewer_8_workers",
        "heartbeat_alone",
    )
    for case in cases:
        if ceiling["requests_per_s"]:
            figures[case]["vs_ceiling"] = round(
                figures[case]["requests_per_s"] / ceiling["requests_per_s"], 3
            )
    figures["invariant_violations_total"] = sum(
        figures[case]["invariant_violations"]
        for case in (
            "spread_1000_viewers",
            "contended_one_viewer",
            "contended_one_viewer_8_workers",
        )
    )
    spread, hot = figures["spread_1000_viewers"], figures["contended_one_viewer"]
    one = figures["one_sequential_client"]
    figures["notes"] = (
        f"Operations/s count every API call (start, heartbeat, stop; a refused start is an "
        f"operation too); p50/p99 are over all of them. Over 1,000 viewers: "
        f"{spread['requests_per_s']} ops/s ({spread['completed_cycles_per_s']} full cycles/s), "
        f"p50 {spread['p50_ms']} ms, p99 {spread['p99_ms']} ms; one viewer: "
        f"{hot['requests_per_s']} ops/s, {hot['responses']['start409']} of "
        f"{hot['responses']['start201'] + hot['responses']['start409']} starts refused. "
        f"Limit violations seen by the separate connection: "
        f"{figures['invariant_violations_total']} (polls: {spread['invariant_polls']}, "
        f"{hot['invariant_polls']}, "
        f"{figures['contended_one_viewer_8_workers']['invariant_polls']}). "
        f"The 1-minute load average before each run was {spread['load_average_1m_before']}, "
        f"{hot['load_average_1m_before']} and "
        f"{figures['contended_one_viewer_8_workers']['load_average_1m_before']} (other work "
        f"shares the machine). "
        f"One sequential client sees start {one['start_p50_ms']} ms, heartbeat "
        f"{one['heartbeat_p50_ms']} ms, stop {one['stop_p50_ms']} ms (the open compat read "
        f"{one['compat_p50_ms']} ms): every write pays a durable commit and one query for "
        f"the token with its user and permissions. Each start is one short transaction (lock "
        f"the viewer row, list its open sessions, insert, commit); each heartbeat and each "
        f"stop is one statement. Heartbeats alone (one live session of each of the 1,000 "
        f"viewers, random order): {figures['heartbeat_alone']['requests_per_s']} req/s. With "
        f"one worker per core the database and the web workers share the machine's "
        f"{os.cpu_count()} cores with wrk."
    )
    return figures
