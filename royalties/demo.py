"""Demo data: the original fixtures consolidated once, so every report endpoint has an answer."""

from pathlib import Path
from typing import TextIO

from royalties.inputs import file_sha256
from royalties.models import Run
from royalties.services import run_create, run_execute

DEMO_DIR = Path(__file__).resolve().parent / "fixtures" / "demo"


def demo_load(*, stdout: TextIO) -> None:
    streams, users, tracks = (
        DEMO_DIR / "streaming.csv",
        DEMO_DIR / "users.csv",
        DEMO_DIR / "tracks.json",
    )
    checksums = {
        "streams": file_sha256(streams),
        "users": file_sha256(users),
        "tracks": file_sha256(tracks),
    }
    done = Run.objects.filter(status=Run.Status.SUCCEEDED, checksums=checksums).first()
    if done is not None:
        stdout.write(f"royalties: demo run {done.pk} exists\n")
        return
    run = run_create(streams_path=str(streams), users_path=str(users), tracks_path=str(tracks))
    run = run_execute(run_id=run.pk)
    stdout.write(f"royalties: demo run {run.pk} {run.status} (revenue {run.revenue})\n")
