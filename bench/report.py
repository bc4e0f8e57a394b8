"""Store scenario results and render them into docs/performance.md."""

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# Hand-written: where the time of one request goes (profiles), rendered after the intro.
BUDGET = ROOT / "bench" / "budget.md"
DOC = ROOT / "docs" / "performance.md"

INTRO = """# Performance

Figures measured by `bench/` (run `python -m uv run python -m bench all`, or one scenario by
name). Each scenario runs the production server (granian, `DJANGO_DEBUG=false`) against
PostgreSQL on loopback and drives it with wrk; each figure stands beside a reference measured
in the same run (the empty-view ceiling, PostgreSQL's own `COPY`), because these machines are
shared and noisy: compare ratios, not absolute numbers, across runs.

This file is generated from `bench/results/*.json` by `bench/report.py`; the text under each
scenario's table is the scenario's own note.
"""


def machine() -> dict:
    mem_kb = 0
    try:
        with open("/proc/meminfo") as handle:
            mem_kb = int(handle.readline().split()[1])
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        # Other work on the machine while the scenario ran shows here (1-minute average).
        "load_average_1m": round(os.getloadavg()[0], 2),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
    }


def result_store(name: str, description: str, figures: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    notes = figures.pop("notes", "")
    record = {
        "name": name,
        "description": description,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "figures": figures,
        "notes": notes,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
    return path


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    if value is None:
        return "-"
    return str(value)


def _rows(figures: dict, prefix: str = "") -> list[tuple[str, str]]:
    rows = []
    for key, value in figures.items():
        if isinstance(value, dict):
            rows.extend(_rows(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", _cell(value)))
    return rows


def render() -> str:
    from bench.targets import targets_check

    parts = [INTRO]
    if BUDGET.exists():
        parts.append(BUDGET.read_text().rstrip() + "\n")
    for path in sorted(RESULTS.glob("*.json")):
        record = json.loads(path.read_text())
        m = record["machine"]
        parts.append(f"\n## {record['name']}\n\n{record['description']}\n")
        parts.append(
            f"Measured {record['date']} on {m['cores']} cores, {m['memory_gib']} GiB "
            f"({m['cpu']}), Python {m['python']}"
            + (
                f", 1-minute load average {m['load_average_1m']} at the end"
                if "load_average_1m" in m
                else ""
            )
            + ".\n"
        )
        checked = targets_check(record["name"], record["figures"])
        if checked:
            parts.append("| target | figure | target | met |\n|---|---|---|---|")
            verdicts = {True: "yes", False: "**no**", None: "not measured"}
            parts.extend(
                f"| {c['label']} | {_cell(c['value'])} | {c['target']} | {verdicts[c['met']]} |"
                for c in checked
            )
            parts.append("")
        parts.append("| figure | value |\n|---|---|")
        parts.extend(f"| {key} | {value} |" for key, value in _rows(record["figures"]))
        if record.get("notes"):
            parts.append(f"\n{record['notes'].strip()}\n")
    return "\n".join(parts).rstrip() + "\n"


def report_write() -> Path:
    DOC.write_text(render())
    return DOC
