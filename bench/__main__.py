"""Run benchmark scenarios: ``python -m bench [--duration S] NAME [NAME ...] | all | list``."""

import argparse
import importlib
import json
import pkgutil
import sys

from bench import scenarios
from bench.harness import Harness
from bench.report import report_write, result_store
from bench.targets import targets_lines


def scenario_names() -> list[str]:
    return sorted(module.name for module in pkgutil.iter_modules(scenarios.__path__))


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
    sys.exit(main())
