"""Demo data: the original five-event sample, accepted and processed (idempotent).

The demo events belong to ``demo-user1`` and ``demo-user2`` so that sending the same sample
with ``send_events`` still gives user1 = 27 and user2 = 58 on a demo platform.
"""

import json
from pathlib import Path
from typing import TextIO

from ingestion.selectors import user_revenue_summary_get
from ingestion.services import event_accept, events_process_pending
from ingestion.validation import event_validate

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "demo" / "events.jsonl"
DEMO_CREDENTIAL = "demo"


def demo_load(*, stdout: TextIO) -> None:
    new = 0
    for number, line in enumerate(FIXTURE.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        data = json.loads(line)
        event, errors = event_validate({**data, "userId": f"demo-{data['userId']}"})
        if event is None:
            raise ValueError(f"{FIXTURE}:{number}: {errors}")
        accepted = event_accept(
            credential=DEMO_CREDENTIAL, event=event, idempotency_key=f"demo:events.jsonl:{number}"
        )
        new += not accepted.duplicate
    events_process_pending()
    totals = ", ".join(
        f"{user} = {summary.revenue}"
        for user in ("demo-user1", "demo-user2")
        if (summary := user_revenue_summary_get(user_id=user)) is not None
    )
    stdout.write(f"ingestion: {new} demo events added; revenue {totals}\n")
