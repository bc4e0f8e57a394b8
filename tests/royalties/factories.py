"""Factories and input-file helpers for the royalties tests."""

from decimal import Decimal
from pathlib import Path

import factory
from django.utils import timezone

from royalties.models import Label, Run, Subscriber, Track
from royalties.services import run_create, run_execute

DEMO_DIR = Path(__file__).resolve().parents[2] / "royalties" / "fixtures" / "demo"
STREAMS = DEMO_DIR / "streaming.csv"
USERS = DEMO_DIR / "users.csv"
TRACKS = DEMO_DIR / "tracks.json"
TRACKS_AS_PUBLISHED = DEMO_DIR / "tracks-as-published.json"

STREAMS_HEADER = "date;user_id;region;track id;seconds"
USERS_HEADER = "user_id;product_type;fee;origin"


class RunFactory(factory.django.DjangoModelFactory[Run]):
    class Meta:
        model = Run

    status = Run.Status.SUCCEEDED
    streams_path = str(STREAMS)
    users_path = str(USERS)
    tracks_path = str(TRACKS)
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)
    rows = factory.LazyFunction(lambda: {"read": 0, "loaded": 0, "rejected": 0})
    revenue = Decimal("0.00")
    total_seconds = 0
    unattributed_seconds = 0
    unattributed_streams = 0
    unattributed_amount = Decimal("0.00")


class LabelFactory(factory.django.DjangoModelFactory[Label]):
    class Meta:
        model = Label

    run = factory.SubFactory(RunFactory)
    name = factory.Sequence(lambda n: f"label {n}")
    share = Decimal("0")
    amount = Decimal("0.00")


class TrackFactory(factory.django.DjangoModelFactory[Track]):
    class Meta:
        model = Track

    id = factory.Sequence(lambda n: n + 1)
    run = factory.SubFactory(RunFactory)
    track_id = factory.Sequence(lambda n: f"track-{n}")
    name = factory.Sequence(lambda n: f"track name {n}")
    label = "label 1"


class SubscriberFactory(factory.django.DjangoModelFactory[Subscriber]):
    class Meta:
        model = Subscriber

    id = factory.Sequence(lambda n: n + 1)
    run = factory.SubFactory(RunFactory)
    user_id = factory.Sequence(lambda n: str(1000000 + n))
    product_type = "premium"
    fee = Decimal("7.99")
    origin = "web"
    contribution = Decimal("7.191")


def write(path: Path, text: str, *, newline: str = "\n", bom: bool = False) -> Path:
    data = text.replace("\n", newline)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data.encode())
    return path


def tracks_file(path: Path, tracks: dict[str, str], *, labels: dict[str, str]) -> Path:
    """tracks: track_id -> name; labels: track_id -> label."""
    import json

    items = [
        {"track_id": track_id, "track_name": name, "label": labels[track_id]}
        for track_id, name in tracks.items()
    ]
    path.write_text(json.dumps(items))
    return path


def consolidate(*, streams: Path, users: Path, tracks: Path | None = None, tracks_url: str = ""):
    run = run_create(
        streams_path=str(streams),
        users_path=str(users),
        tracks_path=str(tracks) if tracks else "",
        tracks_url=tracks_url,
    )
    return run_execute(run_id=run.pk)


def labels_of(run: Run) -> dict[str, tuple[int, str]]:
    return {label.name: (label.seconds, str(label.amount)) for label in run.labels.all()}
