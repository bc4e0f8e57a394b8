"""Demo viewers for a development platform (idempotent: existing viewers are left alone)."""

import csv
from pathlib import Path
from typing import TextIO

from streams.services import viewers_upsert

DEMO_VIEWERS_CSV = Path(__file__).resolve().parent / "fixtures" / "demo" / "viewers.csv"


def demo_load(*, stdout: TextIO) -> None:
    with DEMO_VIEWERS_CSV.open(encoding="utf-8", newline="") as handle:
        limits = {
            row["user_id"]: int(row["max_streams"]) if row["max_streams"] else None
            for row in csv.DictReader(handle)
        }
    result = viewers_upsert(limits=limits, update_existing=False)
    stdout.write(
        f"streams: {result.created} demo viewer(s) created ({', '.join(limits)}); "
        f"try GET /add-stream/user/alice\n"
    )
