"""Run benchmark scenarios: ``python -m bench [--duration S] NAME [NAME ...] | all | list``."""

import argparse
import importlib
import json
import os
import pkgutil
import signal
import subprocess
import sys

from bench import scenarios
from bench.harness import AUTOGROUP_NICE, Harness, autogroup_nice_set
from bench.report import report_write, result_store
from bench.targets import targets_lines


def scenario_names() -> list[str]:
    return sorted(module.name for module in pkgutil.iter_modules(scenarios.__path__))


def _in_own_session(argv: list[str]) -> int | None:
    """Run the bench again as a child in a session of its own and return its exit status, or
    None when this process already leads its session (or the nice value is 0).

    A new session is a new scheduler autogroup, whose nice value the bench then sets without
    touching the shell's. The child does not hear the terminal's Ctrl-C: it is passed on."""
    if AUTOGROUP_NICE == 0 or os.getsid(0) == os.getpid():
        return None
    child = subprocess.Popen([sys.executable, "-m", "bench", *argv], start_new_session=True)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="+", help="scenario names, 'all', or 'list'")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL of the bench DB")
    args = parser.parse_args(argv)

    available = scenario_names()
    if args.names == ["list"]:
        for name in available:
            module = importlib.import_module(f"bench.scenarios.{name}")
            print(f"{name}: {module.DESCRIPTION}")
        return 0
    names = available if args.names == ["all"] else args.names
    unknown = [name for name in names if name not in available]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(available)}")

    harness = Harness(database_url=args.database_url, duration_s=args.duration)
    summary: list[str] = []
    for name in names:
        module = importlib.import_module(f"bench.scenarios.{name}")
        print(f"== {name}: {module.DESCRIPTION}", flush=True)
        figures = module.run(harness)
        path = result_store(module.NAME, module.DESCRIPTION, figures)
        stored = json.loads(path.read_text())["figures"]
        print(json.dumps(stored, indent=2), flush=True)
        summary.extend(f"{name}: {line}" for line in targets_lines(name, stored))
        for line in targets_lines(name, stored):
            print(f"target  {line}", flush=True)
    if summary:
        print("== targets beside figures")
        print("\n".join(summary))
    print(f"wrote {report_write()}")
    return 0


if __name__ == "__main__":
    status = _in_own_session(sys.argv[1:])
    if status is None:
        autogroup_nice_set(os.getpid(), AUTOGROUP_NICE)
        status = main()
    sys.exit(status)
