"""The input readers: the columnar path (Arrow) and the exact path give the same rows, the same
rejections and the same line numbers, whatever the block boundaries."""

import datetime
import io
import random
import subprocess
import sys
from decimal import Decimal

import pyarrow
import pytest

import royalties.inputs.csvfile as csvfile
import royalties.inputs.streams as streams_module
import royalties.inputs.subscribers as subscribers_module
from royalties.consolidation import totals as totals_module
from royalties.inputs import RejectedRow, Rejections, streams_read, subscribers_read
from royalties.models import Entry, Run, Subscriber
from tests.royalties.factories import STREAMS_HEADER, USERS_HEADER, consolidate, tracks_file, write

SHARES = {"app_store": Decimal("0.7000"), "web": Decimal("0.9000")}


def _read_streams(data: bytes) -> tuple[list[tuple], list[RejectedRow], int]:
    rejections = Rejections("streams", 100_000)
    tables = list(streams_read(io.BytesIO(data), rejections=rejections))
    rows = pyarrow.concat_tables(tables).sort_by("line").to_pylist() if tables else []
    return [tuple(row.values()) for row in rows], rejections.listed, rejections.count


@pytest.fixture
def exact_only(monkeypatch):
    """Every block through the exact (record by record) path."""
    monkeypatch.setattr(streams_module, "columnar_read", lambda *args: None)
    monkeypatch.setattr(subscribers_module, "columnar_read", lambda *args: None)


@pytest.fixture
def columnar_blocks(monkeypatch):
    """Counts the blocks Arrow read."""
    counted = {"columnar": 0}
    real = csvfile.columnar_read

    def counting(*args):
        table = real(*args)
        counted["columnar"] += table is not None
        return table

    monkeypatch.setattr(streams_module, "columnar_read", counting)
    monkeypatch.setattr(subscribers_module, "columnar_read", counting)
    return counted


SMALL_LOG = "\n".join(
    [
        "Date;USER_ID;Region;track id;seconds",
        "01/03/2019;u1;nl;t1;100",  # lower-case region: stored upper-case
        "01/03/2019; u2 ;NL;t1;007",  # spaces around an id: stripped; leading zeros
        " 02/03/2019 ;u3;NL;t\t1;5",  # spaces around a date; a tab inside an id
        "31/02/2019;u1;NL;t1;5",
        "01/03/2019;u1;NL;t1;١٢",  # not ASCII digits
        "01/03/2019;u1;ß;t1;5",  # 'ß'.upper() is 'SS'
        "01/03/2019;é;NL;t1;5",
        "01/03/2019;u1; ;t1;5",
        "01/03/2019;u1;ABCDEFGHIJKLMNOPQ;t1;5",
        f"01/03/2019;{'x' * 101};NL;t1;5",
        f"01/03/2019;{'x' * 100};NL;t1;1234567890123",
        f"01/03/2019;{'x' * 100};NL;t1;123456789012",
        "1/3/2019;u4;NL;t1;6",
    ]
)

SMALL_LOG_ROWS = [
    (2, datetime.date(2019, 3, 1), "u1", "NL", "t1", 100),
    (3, datetime.date(2019, 3, 1), "u2", "NL", "t1", 7),
    (4, datetime.date(2019, 3, 2), "u3", "NL", "t\t1", 5),
    (7, datetime.date(2019, 3, 1), "u1", "SS", "t1", 5),
    (8, datetime.date(2019, 3, 1), "é", "NL", "t1", 5),
    (13, datetime.date(2019, 3, 1), "x" * 100, "NL", "t1", 123456789012),
    (14, datetime.date(2019, 3, 1), "u4", "NL", "t1", 6),
]
SMALL_LOG_ERRORS = [
    {"file": "streams", "line": 5, "error": "bad date '31/02/2019' (expected dd/mm/yyyy)"},
    {"file": "streams", "line": 6, "error": "seconds '١٢' is not a whole number"},
    {"file": "streams", "line": 9, "error": "missing region"},
    {"file": "streams", "line": 10, "error": "user_id, track_id or region is too long"},
    {"file": "streams", "line": 11, "error": "user_id, track_id or region is too long"},
    {"file": "streams", "line": 12, "error": "seconds '1234567890123' is out of range"},
]


def test_columnar_checks_send_every_doubtful_value_to_the_exact_check(columnar_blocks):
    rows, errors, count = _read_streams(SMALL_LOG.encode())

    assert columnar_blocks["columnar"] == 2  # the lines, then the last one (no line end)
    assert rows == SMALL_LOG_ROWS
    assert errors == SMALL_LOG_ERRORS
    assert count == 6


def test_the_exact_path_gives_the_same_rows(exact_only):
    assert _read_streams(SMALL_LOG.encode()) == (SMALL_LOG_ROWS, SMALL_LOG_ERRORS, 6)


def _dirty_log(seed: int) -> bytes:
    """A log of rows with dirty values (one in ten), a few quoted fields (some spanning lines),
    blank lines, short rows and lone CRs; CRLF for the first half, LF after."""
    generator = random.Random(seed)
    pick = generator.choice
    values = [
        ["01/03/2019", "13/03/2019", "31/02/2019", " 1/3/2019", "2019-03-01", ""],
        ["u1", "u2", " u3", "a\tb", "é", ""],
        ["NL", "nl", " De ", "ß", "", "ABCDEFGHIJKLMNOPQ"],
        ["t1", "t2", "t 3", " t4", "t\\5"],
        ["100", "007", "-5", "1.5", "", " 42 ", "1234567890123"],
    ]
    oddities = ['"q\nr"', '"x""y"', "", "short", "\r"]
    lines = [STREAMS_HEADER]
    for _ in range(3000):
        row = [pick(c[:2]) if generator.random() < 0.9 else pick(c) for c in values]
        odd = pick(oddities) if generator.random() < 0.01 else None
        if odd in ('"q\nr"', '"x""y"'):
            row[1] = odd
        line = ";".join(row)
        if odd is not None:
            line = {"": "", "short": ";".join(row[:4]), "\r": line + "\r"}.get(odd, line)
        lines.append(line)
    return ("\r\n".join(lines[:1500]) + "\n" + "\n".join(lines[1500:])).encode()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("block_bytes", [64, 1000, 4 << 20])
def test_columnar_and_exact_paths_agree_at_any_block_size(
    monkeypatch, columnar_blocks, seed, block_bytes
):
    data = _dirty_log(seed)
    with monkeypatch.context() as patch:
        patch.setattr(streams_module, "columnar_read", lambda *args: None)
        expected = _read_streams(data)  # the whole file by the exact path

    monkeypatch.setattr(csvfile, "BLOCK_BYTES", block_bytes)
    assert _read_streams(data) == expected
    # Small blocks: most are plain and read by Arrow; one big block has quotes in it.
    assert (columnar_blocks["columnar"] > 10) == (block_bytes < 4 << 20)
    assert len(expected[0]) > 2000
    assert expected[2] > 100


def test_clean_blocks_are_read_by_arrow(monkeypatch, columnar_blocks):
    monkeypatch.setattr(csvfile, "BLOCK_BYTES", 1000)
    data = "\n".join([STREAMS_HEADER] + ["01/03/2019;u1;NL;t1;5"] * 500).encode()

    rows, errors, _ = _read_streams(data)

    assert columnar_blocks["columnar"] == 12  # 11,000 bytes of rows in blocks of ~1,000
    assert [row[0] for row in rows] == list(range(2, 502))
    assert errors == []


def test_a_quoted_field_spanning_a_block_boundary_keeps_line_numbers(
    monkeypatch, tmp_path, settings
):
    settings.ROYALTIES_MAX_REJECTED_FRACTION = Decimal("1")
    monkeypatch.setattr(csvfile, "BLOCK_BYTES", 40)
    streams = write(
        tmp_path / "streams.csv",
        f'{STREAMS_HEADER}\n01/03/2019;u1;NL;t1;1\n01/03/2019;"u\n\n\n2";NL;t1;2\n'
        "01/03/2019;u3;NL;t1;3\n01/03/2019;u4;NL;t1\n01/03/2019;u5;NL;t1;5",
    )
    users = write(tmp_path / "users.csv", f"{USERS_HEADER}\nu1;premium;1;web")
    tracks = tracks_file(tmp_path / "tracks.json", {"t1": "one"}, labels={"t1": "A"})

    run = consolidate(streams=streams, users=users, tracks=tracks)

    assert run.status == Run.Status.SUCCEEDED, run.error
    lines = Entry.objects.filter(run=run).order_by("line").values_list("line", "user_id")
    assert list(lines) == [(2, "u1"), (3, "u\n\n\n2"), (7, "u3"), (9, "u5")]
    assert run.errors == [{"file": "streams", "line": 8, "error": "expected 5 fields, found 4"}]


def test_a_user_listed_again_in_a_later_block_is_rejected(monkeypatch, columnar_blocks):
    monkeypatch.setattr(csvfile, "BLOCK_BYTES", 200)
    lines = [USERS_HEADER] + [f"u{i};premium;7,99;web" for i in range(30)] + ["u3;student;1;web"]
    rejections = Rejections("users", 10)

    table = subscribers_read(
        io.BytesIO("\n".join(lines).encode()), shares=SHARES, rejections=rejections
    )

    assert columnar_blocks["columnar"] >= 3
    assert table.num_rows == 30
    assert table.slice(3, 1).to_pylist() == [
        {
            "user_id": "u3",
            "product_type": "premium",
            "fee": Decimal("7.9900"),
            "origin": "web",
            "contribution": Decimal("7.19100000"),
            "line": 5,
        }
    ]
    assert rejections.listed == [
        {"file": "users", "line": 32, "error": "user u3 is already listed on line 5"}
    ]


def test_seconds_too_large_to_total_exactly_fail_the_run(monkeypatch, tmp_path):
    monkeypatch.setattr(totals_module, "EXACT_LIMIT", 1000)
    streams = write(
        tmp_path / "streams.csv",
        f"{STREAMS_HEADER}\n01/03/2019;u1;NL;t1;600\n02/03/2019;u1;NL;t1;500",
    )
    users = write(tmp_path / "users.csv", f"{USERS_HEADER}\nu1;premium;1;web")
    tracks = tracks_file(tmp_path / "tracks.json", {"t1": "one"}, labels={"t1": "A"})

    run = consolidate(streams=streams, users=users, tracks=tracks)

    assert (run.status, run.error) == (
        Run.Status.FAILED,
        "streams: the seconds add up to more than 9.2 x 10^18, beyond exact totals.",
    )
    assert Entry.objects.count() == Subscriber.objects.count() == 0


def test_web_processes_do_not_load_arrow():
    code = (
        "import sys, django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        "django.setup(); import config.urls, royalties.admin, royalties.tasks; "
        "print(sorted({'pyarrow', 'numpy', 'pgpq'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


pytestmark = pytest.mark.django_db
