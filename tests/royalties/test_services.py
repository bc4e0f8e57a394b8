"""The consolidation service: exact report, every input tolerance and rejection, runs' life."""

import hashlib
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.errors import ConflictError
from royalties.models import Entry, Label, Run, Subscriber, Track
from royalties.services import run_create, run_execute, run_rerun
from tests.royalties.factories import (
    STREAMS,
    STREAMS_HEADER,
    TRACKS,
    TRACKS_AS_PUBLISHED,
    USERS,
    USERS_HEADER,
    consolidate,
    labels_of,
    tracks_file,
    write,
)

pytestmark = pytest.mark.django_db

AS_PUBLISHED_WARNING = (
    "track metadata is in the as-published shape: the first track ('track name 1', label "
    "'label 1') was lost in the conversion; its id is unknown, so its streams are unattributed."
)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fixtures_with_clean_metadata_give_the_exact_report():
    run = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS)

    assert run.status == Run.Status.SUCCEEDED
    assert run.error == ""
    assert run.revenue == Decimal("178.94")
    assert run.total_seconds == 1_557_150
    assert labels_of(run) == {
        "label 1": (632_938, "72.73"),
        "label 2": (286_270, "32.90"),
        "label 3": (637_942, "73.31"),
    }
    assert (run.unattributed_seconds, run.unattributed_amount) == (0, Decimal("0.00"))
    assert run.rows == {"read": 76, "loaded": 76, "rejected": 0}
    assert run.warnings == []
    assert run.errors == []
    assert Subscriber.objects.get(run=run, user_id="7699007").seconds == 250_460
    assert run.checksums == {
        "streams": sha256(STREAMS),
        "users": sha256(USERS),
        "tracks": sha256(TRACKS),
    }
    assert Entry.objects.filter(run=run).count() == 76
    first = Entry.objects.filter(run=run).order_by("id")[0]
    assert (first.line, str(first.date), first.user_id, first.region, first.seconds) == (
        2,
        "2019-03-01",
        "7699007",
        "US",
        2263,
    )
    assert Track.objects.filter(run=run).count() == 15
    assert run.started_at <= run.finished_at
    # (jsonb on PostgreSQL does not keep key order)
    assert set(run.timings) == {
        "fetch and checksums",
        "metadata and subscribers",
        "streaming log",
        "aggregates",
        "subscribers stored",
        "tracks and labels stored",
    }


def test_fixtures_with_as_published_metadata_withhold_the_lost_track():
    run = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS_AS_PUBLISHED)

    assert run.status == Run.Status.SUCCEEDED
    assert run.revenue == Decimal("178.94")
    assert labels_of(run) == {
        "label 1": (573_987, "65.96"),
        "label 2": (286_270, "32.90"),
        "label 3": (637_942, "73.31"),
    }
    assert run.unattributed_seconds == 58_951
    assert run.unattributed_streams == 6
    assert run.unattributed_amount == Decimal("6.77")
    assert run.warnings == [
        AS_PUBLISHED_WARNING,
        "6 streams (58951 s) of 1 tracks absent from the metadata (e.g. "
        "71700f062f1e57e4d2beea5b9db11b7b) are unattributed: their amount is withheld.",
    ]
    assert Track.objects.get(run=run, track_id="71f4ca0346edbe5327af3885e2253928").name == (
        "track name 2"
    )


@pytest.mark.parametrize("delimiter", [";", ","])
@pytest.mark.parametrize("newline", ["\r\n", "\n"])
@pytest.mark.parametrize("bom", [True, False])
@pytest.mark.parametrize("final_newline", [True, False])
@pytest.mark.parametrize("track_header", ["track id", "track_id", "Track ID"])
def test_input_tolerances(tmp_path, delimiter, newline, bom, final_newline, track_header):
    d = delimiter
    end = "\n" if final_newline else ""
    streams = write(
        tmp_path / "streams.csv",
        f"date{d}user_id{d}region{d}{track_header}{d}seconds\n"
        f"01/03/2019{d}u1{d}nl{d}t1{d}100\n"
        f"13/03/2019{d}u2{d}Nl{d}t2{d}300{end}",
        newline=newline,
        bom=bom,
    )
    fee = '"10,00"' if d == "," else "10,00"
    users = write(
        tmp_path / "users.csv",
        f"user_id{d}product_type{d}fee{d}origin\n"
        f"u1{d}premium{d}10.00{d}web\n"
        f"u2{d}premium{d}{fee}{d}App_Store{end}",
        newline=newline,
        bom=bom,
    )
    tracks = tracks_file(
        tmp_path / "tracks.json", {"t1": "one", "t2": "two"}, labels={"t1": "A", "t2": "B"}
    )

    run = consolidate(streams=streams, users=users, tracks=tracks)

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.revenue == Decimal("16.00")  # 10.00 x 0.90 + 10.00 x 0.70
    assert labels_of(run) == {"A": (100, "4.00"), "B": (300, "12.00")}
    entries = list(Entry.objects.filter(run=run).order_by("line"))
    assert [(e.line, str(e.date), e.region) for e in entries] == [
        (2, "2019-03-01", "NL"),
        (3, "2019-03-13", "NL"),
    ]
    assert Subscriber.objects.get(run=run, user_id="u2").origin == "app_store"


def _rejection_inputs(tmp_path):
    streams = write(
        tmp_path / "streams.csv",
        "\n".join(
            [
                STREAMS_HEADER,
                "01/03/2019;u1;NL;t1;100",
                "31/02/2019;u1;NL;t1;100",
                "2019-03-01;u1;NL;t1;100",
                "01/03/2019;u1;NL;t1;-5",
                "01/03/2019;u1;NL;t1;1.5",
                "01/03/2019;;NL;t1;100",
                "01/03/2019;u1;NL;t1",
                '01/03/2019;"u\n2";NL;t1;7',
                "03/13/2019;u1;NL;t1;100",
                ";u1;NL;t1;100",
                "01/03/2019;u1;NL;t1;",
                "",
                "02/03/2019;u1;us;t1;200",
            ]
        ),
    )
    users = write(tmp_path / "users.csv", f"{USERS_HEADER}\nu1;premium;7,99;web")
    tracks = tracks_file(tmp_path / "tracks.json", {"t1": "one"}, labels={"t1": "A"})
    return streams, users, tracks


EXPECTED_STREAM_ERRORS = [
    {"file": "streams", "line": 3, "error": "bad date '31/02/2019' (expected dd/mm/yyyy)"},
    {"file": "streams", "line": 4, "error": "bad date '2019-03-01' (expected dd/mm/yyyy)"},
    {"file": "streams", "line": 5, "error": "negative seconds '-5'"},
    {"file": "streams", "line": 6, "error": "seconds '1.5' is not a whole number"},
    {"file": "streams", "line": 7, "error": "missing user_id"},
    {"file": "streams", "line": 8, "error": "expected 5 fields, found 4"},
    {"file": "streams", "line": 11, "error": "bad date '03/13/2019' (expected dd/mm/yyyy)"},
    {"file": "streams", "line": 12, "error": "missing date"},
    {"file": "streams", "line": 13, "error": "missing seconds"},
]


def test_malformed_rows_are_rejected_with_their_physical_line(tmp_path, settings):
    settings.ROYALTIES_MAX_REJECTED_FRACTION = Decimal("1")
    streams, users, tracks = _rejection_inputs(tmp_path)

    run = consolidate(streams=streams, users=users, tracks=tracks)

    assert run.status == Run.Status.SUCCEEDED
    assert run.errors == EXPECTED_STREAM_ERRORS
    assert run.rows == {"read": 12, "loaded": 3, "rejected": 9}
    lines = list(Entry.objects.filter(run=run).order_by("line").values_list("line", "user_id"))
    # The quoted user id spans lines 9-10: the next record starts on line 11, the blank line
    # 14 is skipped, the last record is line 15.
    assert lines == [(2, "u1"), (9, "u\n2"), (15, "u1")]
    assert run.total_seconds == 307
    assert "9 rows of the streaming log were rejected (see the errors)." in run.warnings


def test_too_many_rejected_rows_fail_the_run_and_store_nothing(tmp_path):
    streams, users, tracks = _rejection_inputs(tmp_path)

    run = consolidate(streams=streams, users=users, tracks=tracks)

    assert run.status == Run.Status.FAILED
    assert run.error == (
        "streams: 9 of 12 rows rejected, more than the allowed 1%; see the errors for their "
        "line numbers."
    )
    assert run.errors == EXPECTED_STREAM_ERRORS
    assert run.rows == {"read": 12, "loaded": 3, "rejected": 9}
    assert run.revenue is None
    assert Entry.objects.count() == 0
    assert Subscriber.objects.count() == Track.objects.count() == Label.objects.count() == 0


def test_ids_with_tabs_and_backslashes_are_stored_as_they_are(tmp_path):
    streams = write(
        tmp_path / "streams.csv",
        f'{STREAMS_HEADER}\n01/03/2019;"a\tb\\\\c";NL;t1;10\n01/03/2019;u1;NL;t\\1;5',
    )
    users = write(tmp_path / "users.csv", f"{USERS_HEADER}\nu1;premium;1;web")
    tracks = tracks_file(tmp_path / "tracks.json", {"t1": "one"}, labels={"t1": "A"})

    run = consolidate(streams=streams, users=users, tracks=tracks)

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert list(Entry.objects.filter(run=run).values_list("user_id", "track_id")) == [
        ("a\tb\\\\c", "t1"),
        ("u1", "t\\1"),
    ]


def test_unknown_users_count_in_seconds_and_silent_subscribers_still_pay(tmp_path):
    streams = write(
        tmp_path / "streams.csv",
        f"{STREAMS_HEADER}\n01/03/2019;u1;NL;t1;100\n01/03/2019;u9;NL;t1;50",
    )
    users = write(
        tmp_path / "users.csv", f"{USERS_HEADER}\nu1;premium;10;web\nu3;premium;10;app_store"
    )
    tracks = tracks_file(tmp_path / "tracks.json", {"t1": "one"}, labels={"t1": "A"})

    run = consolidate(streams=streams, users=users, tracks=tracks)

    assert run.revenue == Decimal("16.00")
    assert run.total_seconds == 150
    assert labels_of(run) == {"A": (150, "16.00")}
    assert run.warnings == [
        "1 streams (50 s) by 1 users absent from the subscribers file (e.g. u9): counted in "
        "the seconds, no fee."
    ]
    by_user = {
        s.user_id: (s.subscribed, s.seconds, s.contribution)
        for s in Subscriber.objects.filter(run=run)
    }
    assert by_user == {
        "u1": (True, 100, Decimal("9.00000000")),
        "u3": (True, 0, Decimal("7.00000000")),
        "u9": (False, 50, Decimal("0E-8")),
    }


def test_bad_subscriber_rows_are_rejected_with_line_numbers(tmp_path, settings):
    settings.ROYALTIES_MAX_REJECTED_FRACTION = Decimal("1")
    streams = write(tmp_path / "streams.csv", f"{STREAMS_HEADER}\n01/03/2019;u1;NL;t1;100")
    users = write(
        tmp_path / "users.csv",
        "\n".join(
            [
                USERS_HEADER,
                "u1;premium;7,99;web",
                "u2;premium;abc;web",
                "u3;premium;7,99;shop",
                "u1;premium;7,99;web",
                "u4;;7,99;web",
                "u5;premium;-1;web",
            ]
        ),
    )
    tracks = tracks_file(tmp_path / "tracks.json", {"t1": "one"}, labels={"t1": "A"})

    run = consolidate(streams=streams, users=users, tracks=tracks)

    assert run.status == Run.Status.SUCCEEDED
    assert run.revenue == Decimal("7.19")  # 7.99 x 0.90 = 7.191
    assert run.errors == [
        {"file": "users", "line": 3, "error": "bad fee 'abc' (expected an amount like 7,99)"},
        {"file": "users", "line": 4, "error": "unknown origin 'shop' (known: app_store, web)"},
        {"file": "users", "line": 5, "error": "user u1 is already listed on line 2"},
        {"file": "users", "line": 6, "error": "missing product_type"},
        {"file": "users", "line": 7, "error": "bad fee '-1' (expected an amount like 7,99)"},
    ]


def test_no_streams_leaves_the_whole_revenue_unattributed(tmp_path):
    streams = write(tmp_path / "streams.csv", STREAMS_HEADER)
    users = write(tmp_path / "users.csv", f"{USERS_HEADER}\nu1;premium;10;web")
    tracks = tracks_file(tmp_path / "tracks.json", {"t1": "one"}, labels={"t1": "A"})

    run = consolidate(streams=streams, users=users, tracks=tracks)

    assert run.status == Run.Status.SUCCEEDED
    assert run.rows == {"read": 0, "loaded": 0, "rejected": 0}
    assert labels_of(run) == {"A": (0, "0.00")}
    assert run.unattributed_amount == Decimal("9.00")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "tracks: not valid JSON (Expecting value: line 1 column 1 (char 0))."),
        ('{"track_id": "t1"}', "tracks: expected a JSON array of tracks, got dict."),
        ("[]", "tracks: the metadata lists no track."),
        (
            '[{"id": "t1", "name": "x"}]',
            "tracks: unrecognised track fields ['id', 'name'] (expected track_id, "
            "track_name, label).",
        ),
        (
            '[{"track_id": "t1", "track_name": "x", "label": "A"}, {"track_id": "t2"}]',
            "tracks: item 1 needs non-empty track_id, track_name and label.",
        ),
        (
            '[{"track_id": "t1", "track_name": "x", "label": "A"}, '
            '{"track_id": "t1", "track_name": "x", "label": "B"}]',
            "tracks: track t1 is listed twice with different name or label (item 1).",
        ),
    ],
)
def test_malformed_metadata_fails_the_run_naming_the_problem(tmp_path, content, message):
    tracks = write(tmp_path / "tracks.json", content)

    run = consolidate(streams=STREAMS, users=USERS, tracks=tracks)

    assert run.status == Run.Status.FAILED
    assert run.error == message
    assert Entry.objects.count() == 0


@pytest.mark.parametrize(
    ("streams_text", "message"),
    [
        ("", "streams: the file is empty (no header line)."),
        (
            "date;user_id;seconds\n01/03/2019;u1;5",
            "streams: missing column(s) region, track_id "
            "in the header (found: date, user_id, seconds).",
        ),
        (
            "just one column\nx",
            "streams: cannot find the delimiter in the header line "
            "'just one column' (expected ';', ',' or tab).",
        ),
    ],
)
def test_unreadable_streaming_log_fails_the_run(tmp_path, streams_text, message):
    streams = write(tmp_path / "streams.csv", streams_text)

    run = consolidate(streams=streams, users=USERS, tracks=TRACKS)

    assert (run.status, run.error) == (Run.Status.FAILED, message)


def test_a_succeeded_run_is_immutable_and_a_rerun_gives_the_same_numbers():
    run = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS)

    with pytest.raises(ConflictError):
        run_execute(run_id=run.pk)

    again = run_execute(run_id=run_rerun(run=run, enqueue=False).pk)
    assert again.rerun_of_id == run.pk
    assert again.status == Run.Status.SUCCEEDED
    assert labels_of(again) == labels_of(run)
    assert again.checksums == run.checksums
    assert Entry.objects.filter(run=run).count() == Entry.objects.filter(run=again).count() == 76


def test_run_create_refuses_missing_files_and_ambiguous_metadata(tmp_path):
    from core.errors import ApplicationError

    with pytest.raises(ApplicationError, match="streams: no such file"):
        run_create(
            streams_path=str(tmp_path / "x.csv"), users_path=str(USERS), tracks_path=str(TRACKS)
        )
    with pytest.raises(ApplicationError, match="exactly one"):
        run_create(
            streams_path=str(STREAMS),
            users_path=str(USERS),
            tracks_path=str(TRACKS),
            tracks_url="http://example.com/t.json",
        )
    assert Run.objects.count() == 0


class _MetadataServer:
    """A local Metadata API answering with the given statuses in turn (the last one repeats)."""

    def __init__(self, statuses: list[int], body: bytes) -> None:
        self.statuses, self.body, self.requests = statuses, body, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                status = outer.statuses[min(outer.requests, len(outer.statuses) - 1)]
                outer.requests += 1
                payload = outer.body if status == 200 else b'{"error": "down"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/tracks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fast_retries(settings):
    settings.ROYALTIES_METADATA_BACKOFF_SECONDS = Decimal("0")
    settings.ROYALTIES_METADATA_RETRIES = 3
    settings.ROYALTIES_METADATA_TIMEOUT_SECONDS = 5


def test_metadata_url_that_fails_then_answers(fast_retries):
    with _MetadataServer([503, 502, 200], TRACKS_AS_PUBLISHED.read_bytes()) as server:
        run = consolidate(streams=STREAMS, users=USERS, tracks_url=server.url)

    assert server.requests == 3
    assert run.status == Run.Status.SUCCEEDED
    assert labels_of(run)["label 1"] == (573_987, "65.96")
    assert run.unattributed_amount == Decimal("6.77")
    assert run.warnings[0] == AS_PUBLISHED_WARNING
    assert run.checksums["tracks"] == sha256(TRACKS_AS_PUBLISHED)
    assert run.tracks_url == server.url
    snapshot = Path(run.tracks_path).read_bytes()
    assert json.loads(snapshot) == json.loads(TRACKS_AS_PUBLISHED.read_bytes())


def test_metadata_url_that_stays_down_fails_the_run_clearly(fast_retries):
    with _MetadataServer([503], b"") as server:
        run = consolidate(streams=STREAMS, users=USERS, tracks_url=server.url)

    assert server.requests == 4
    assert run.status == Run.Status.FAILED
    assert run.error == (
        "tracks: the metadata URL is unavailable after 4 attempts (last: HTTP 503)."
    )
    assert Entry.objects.count() == 0


def test_metadata_url_answering_404_is_not_retried(fast_retries):
    with _MetadataServer([404], b"") as server:
        run = consolidate(streams=STREAMS, users=USERS, tracks_url=server.url)

    assert server.requests == 1
    assert run.error == "tracks: the metadata URL answered HTTP 404."


def test_metadata_url_nobody_listens_on(fast_retries):
    with _MetadataServer([200], b"") as server:
        url = server.url
    run = consolidate(streams=STREAMS, users=USERS, tracks_url=url)

    assert run.status == Run.Status.FAILED
    assert run.error == (
        "tracks: the metadata URL is unavailable after 4 attempts (last: ConnectionError)."
    )


def test_quoting_corner_cases_keep_csv_semantics_and_line_numbers(tmp_path, settings):
    settings.ROYALTIES_MAX_REJECTED_FRACTION = Decimal("1")
    streams = write(
        tmp_path / "streams.csv",
        "\n".join(
            [
                STREAMS_HEADER,
                '"01/03/2019";"u1";"nl";"t1";"10"',
                '01/03/2019;ab"c;NL;t1;20',
                '01/03/2019;"x""y";NL;t1;30',
                "01/03/2019;u1;NL;t1;40\r",
                '01/03/2019;"open;NL;t1;50',
                "01/03/2019;u1;NL;t1;60",
            ]
        ),
    )
    users = write(tmp_path / "users.csv", f"{USERS_HEADER}\nu1;premium;1;web")
    tracks = tracks_file(tmp_path / "tracks.json", {"t1": "one"}, labels={"t1": "A"})

    run = consolidate(streams=streams, users=users, tracks=tracks)

    rows = Entry.objects.filter(run=run).order_by("line")
    assert list(rows.values_list("line", "user_id", "region", "seconds")) == [
        (2, "u1", "NL", 10),
        (3, 'ab"c', "NL", 20),
        (4, 'x"y', "NL", 30),
        (5, "u1", "NL", 40),
    ]
    # The quote opened on line 6 is never closed: the rest of the file is one bad record.
    assert run.errors == [
        {"file": "streams", "line": 6, "error": "unreadable CSV: unexpected end of data"}
    ]
    assert run.rows == {"read": 5, "loaded": 4, "rejected": 1}


def test_an_input_removed_before_the_worker_runs_fails_clearly(tmp_path):
    streams = write(tmp_path / "streams.csv", f"{STREAMS_HEADER}\n01/03/2019;u1;NL;t1;5")
    run = run_create(streams_path=str(streams), users_path=str(USERS), tracks_path=str(TRACKS))
    streams.unlink()

    run = run_execute(run_id=run.pk)

    assert (run.status, run.error) == (
        Run.Status.FAILED,
        f"streams: the input file is gone: {streams}",
    )
