"""manage.py consolidate_royalties and generate_streams."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_q.models import OrmQ

from royalties.models import Run
from tests.royalties.factories import STREAMS, TRACKS, TRACKS_AS_PUBLISHED, USERS, write

pytestmark = pytest.mark.django_db


def _consolidate(*args: str) -> str:
    out = StringIO()
    call_command("consolidate_royalties", *args, stdout=out)
    return out.getvalue()


def test_consolidate_prints_the_summary():
    output = _consolidate(
        "--streams", str(STREAMS), "--users", str(USERS), "--tracks", str(TRACKS_AS_PUBLISHED)
    )
    run = Run.objects.get()
    assert run.status == Run.Status.SUCCEEDED
    assert output.splitlines()[:6] == [
        f"run {run.pk} succeeded: 76 rows read, 76 loaded, 0 rejected",
        "revenue 178.94  total seconds 1,557,150",
        "  label 1                573,987 s         65.96",
        "  label 2                286,270 s         32.90",
        "  label 3                637,942 s         73.31",
        "  (unattributed)          58,951 s          6.77",
    ]
    assert "warning: track metadata is in the as-published shape" in output


def test_consolidate_failure_exits_non_zero_with_the_reason(tmp_path):
    tracks = write(tmp_path / "tracks.json", "{}")
    with pytest.raises(CommandError) as excinfo:
        _consolidate("--streams", str(STREAMS), "--users", str(USERS), "--tracks", str(tracks))
    run = Run.objects.get()
    assert str(excinfo.value) == (
        f"run {run.pk} failed: tracks: expected a JSON array of tracks, got dict."
    )
    assert run.status == Run.Status.FAILED


def test_consolidate_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError) as excinfo:
        _consolidate(
            "--streams", str(tmp_path / "nope.csv"), "--users", str(USERS), "--tracks", str(TRACKS)
        )
    assert str(excinfo.value) == f"streams: no such file: {tmp_path / 'nope.csv'}"
    assert Run.objects.count() == 0


def test_consolidate_async_enqueues_on_the_worker(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        output = _consolidate(
            "--streams", str(STREAMS), "--users", str(USERS), "--tracks", str(TRACKS), "--async"
        )
    run = Run.objects.get()
    assert output == f"run {run.pk} queued; the worker will consolidate it.\n"
    assert run.status == Run.Status.QUEUED
    assert OrmQ.objects.get().task["args"] == (run.pk,)


def test_consolidate_with_a_metadata_url_is_queued_with_the_url():
    _consolidate(
        "--streams",
        str(STREAMS),
        "--users",
        str(USERS),
        "--tracks",
        "https://metadata.example.com/tracks",
        "--async",
    )
    run = Run.objects.get()
    assert (run.tracks_url, run.tracks_path) == ("https://metadata.example.com/tracks", "")


def _generate(out_dir, *, stdout) -> None:
    call_command(
        "generate_streams",
        *("--rows", "2000", "--users", "300", "--tracks", "120", "--labels", "7"),
        *("--seed", "3", "--out", str(out_dir)),
        stdout=stdout,
    )


def test_generate_streams_writes_consistent_inputs(tmp_path):
    out = StringIO()
    _generate(tmp_path, stdout=out)
    assert out.getvalue() == f"wrote 2,000 streams, 300 users, 120 tracks, 7 labels to {tmp_path}\n"
    streams = (tmp_path / "streaming.csv").read_text().split("\n")
    assert streams[0] == "date;user_id;region;track id;seconds"
    assert len(streams) == 2001  # header + rows, no final newline
    tracks = json.loads((tmp_path / "tracks.json").read_text())
    assert len(tracks) == 120
    assert {t["label"] for t in tracks} == {f"label {n}" for n in range(1, 8)}
    users = (tmp_path / "users.csv").read_bytes().decode().split("\r\n")
    assert users[0] == "user_id;product_type;fee;origin"

    _consolidate(
        "--streams",
        str(tmp_path / "streaming.csv"),
        "--users",
        str(tmp_path / "users.csv"),
        "--tracks",
        str(tmp_path / "tracks.json"),
    )
    run = Run.objects.get()
    assert run.rows == {"read": 2000, "loaded": 2000, "rejected": 0}
    assert run.unattributed_seconds == 0
    amounts = sum(label.amount for label in run.labels.all())
    assert run.unattributed_amount is not None
    assert amounts + run.unattributed_amount == run.revenue

    again = tmp_path / "again"
    _generate(again, stdout=StringIO())
    assert (again / "streaming.csv").read_bytes() == (tmp_path / "streaming.csv").read_bytes()


def test_generate_streams_refuses_impossible_sizes(tmp_path):
    with pytest.raises(CommandError, match="--labels cannot exceed --tracks"):
        call_command("generate_streams", "--tracks", "3", "--labels", "5", "--out", str(tmp_path))


def test_a_failed_users_file_is_named_first(tmp_path):
    users = write(tmp_path / "users.csv", "user_id;product_type;fee;origin\n1;premium;x;web\n")
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "consolidate_royalties",
            *("--streams", str(STREAMS), "--users", str(users), "--tracks", str(TRACKS)),
            stdout=out,
        )
    run = Run.objects.get()
    assert run.error.startswith("users: 1 of 1 rows rejected")
    assert out.getvalue().splitlines()[:2] == [
        f"run {run.pk} failed: {run.error}",
        "  streaming log: 76 rows read, 76 loaded, 0 rejected",
    ]
    assert str(excinfo.value) == f"run {run.pk} failed: {run.error}"


def test_the_rejected_fraction_limit_is_a_flag(tmp_path):
    users = write(
        tmp_path / "users.csv",
        USERS.read_text(encoding="utf-8-sig").replace("\r\n", "\n") + "\nbad;premium;x;web\n",
    )
    args = ("--streams", str(STREAMS), "--users", str(users), "--tracks", str(TRACKS))
    with pytest.raises(CommandError):
        _consolidate(*args, "--max-rejected-fraction", "0")
    output = _consolidate(*args, "--max-rejected-fraction", "0.5")
    assert output.startswith(f"run {Run.objects.all()[0].pk} succeeded")
    with pytest.raises(CommandError, match="between 0 and 1"):
        _consolidate(*args, "--max-rejected-fraction", "2")
