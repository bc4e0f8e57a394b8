"""The delimited text inputs (streaming log, subscribers): header, blocks of lines, records.

- The header is the first physical line: a BOM is dropped, the delimiter is the most frequent
  of ``;``, ``,`` and tab in it, names are matched case-insensitively with spaces and
  underscores equivalent (``track id`` = ``track_id``), in any order.
- The rest of the file is read in blocks of whole physical lines (a line ends at LF, CRLF or a
  lone CR), so memory holds one block whatever the size of the file.
- ``block_records`` is the exact record parser of a block: a line without a quote character
  is split as it is (what the csv module would return, only faster); a line with one goes to
  the csv module, which reads as many further physical lines as a quoted field spans, pulling
  them from the following blocks if need be. Line numbers count physical lines, header = 1.
"""

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TypedDict

import pyarrow
import pyarrow.csv as pacsv

from core.errors import ApplicationError

BLOCK_BYTES = 4 << 20  # ~70,000 lines of a streaming log


class InputError(ApplicationError):
    """An input that cannot be read at all; the run fails with this message."""

    code = "invalid_input"


class RejectedRow(TypedDict):
    """A rejected row as a run lists it (``Run.errors``)."""

    file: str
    line: int
    error: str


@dataclass
class Rejections:
    """Rejected rows of one input: the count, and the first ``limit`` of them with line numbers."""

    source: str
    limit: int
    count: int = 0
    listed: list[RejectedRow] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.listed) < self.limit:
            self.listed.append({"file": self.source, "line": line, "error": message})


def file_sha256(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True)
class Header:
    delimiter: str
    width: int  # number of columns
    columns: dict[str, int]  # index of each required column


@dataclass(frozen=True)
class Block:
    first_line: int  # physical line number of the block's first line
    data: bytes  # whole lines (the last one may lack its line end at the end of the file)
    lines: int  # how many


def _normalise(name: str) -> str:
    return re.sub(r"[\s_]+", "_", name.strip().lower())


def _line_end(data: bytes, *, more: bool) -> int | None:
    """Offset just past the first line end in ``data``; None if it needs more bytes."""
    ends = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
    if not ends:
        return None
    end = min(ends)
    if data[end] == 13:  # CR: one line end with an LF after it
        if end + 1 == len(data) and more:
            return None
        if data[end + 1 : end + 2] == b"\n":
            return end + 2
    return end + 1


def header_read(binary: BinaryIO, *, source: str, required: tuple[str, ...]) -> Header:
    """Read the header line; leave ``binary`` at the first byte after it."""
    head = b""
    while True:
        chunk = binary.read(1 << 16)
        head += chunk
        end = _line_end(head, more=bool(chunk))
        if end is not None or not chunk:
            break
    end = len(head) if end is None else end
    binary.seek(end)
    try:
        line = head[:end].decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{source}: the file is not UTF-8 text.") from None
    if not line.strip():
        raise InputError(f"{source}: the file is empty (no header line).")
    delimiter = max(";,\t", key=line.count)
    if line.count(delimiter) == 0:
        raise InputError(
            f"{source}: cannot find the delimiter in the header line "
            f"{line.strip()!r} (expected ';', ',' or tab)."
        )
    names = [_normalise(name) for name in next(csv.reader([line], delimiter=delimiter))]
    missing = [name for name in required if name not in names]
    if missing:
        raise InputError(
            f"{source}: missing column(s) {', '.join(missing)} in the header "
            f"(found: {', '.join(names)})."
        )
    return Header(delimiter, len(names), {name: names.index(name) for name in required})


def line_count(data: bytes) -> int:
    """Physical line ends in ``data`` (LF, CRLF and lone CR each end one line)."""
    if b"\r" not in data:
        return data.count(b"\n")
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def blocks(binary: BinaryIO, *, first_line: int) -> Iterator[Block]:
    """The rest of the file in blocks of whole physical lines (about ``BLOCK_BYTES`` each)."""
    carry, line, size = b"", first_line, BLOCK_BYTES
    while chunk := binary.read(size):
        data = carry + chunk
        cut = data.rfind(b"\n") + 1 or data.rfind(b"\r", 0, len(data) - 1) + 1
        if not cut:
            carry = data
            continue
        block, carry = data[:cut], data[cut:]
        count = line_count(block)
        yield Block(line, block, count)
        line += count
    if carry:
        yield Block(line, carry, line_count(carry) + 1)


def _text(block: Block, source: str) -> str:
    try:
        return block.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        after = block.first_line - 1 + line_count(block.data[: exc.start])
        raise InputError(f"{source}: the file is not UTF-8 text (after line {after}).") from None


class _Lines:
    """Physical lines of a block; ``spill`` goes on into the following blocks (a quoted field
    spanning lines past the block's end)."""

    def __init__(self, block: Block, following: Iterator[Block], source: str) -> None:
        self.current = iter(io.StringIO(_text(block, source), newline=""))
        self.following, self.source = following, source

    def spill(self) -> Iterator[str]:
        while True:
            # (not ``yield from``: closing this generator would close the block's lines)
            for line in self.current:  # noqa: UP028
                yield line
            block = next(self.following, None)
            if block is None:
                return
            self.current = iter(io.StringIO(_text(block, self.source), newline=""))


Records = Iterator[tuple[int, list[str]]]


def block_records(
    block: Block, following: Iterator[Block], *, delimiter: str, rejections: Rejections
) -> Records:
    """(first physical line, fields) of every non-blank record of the block (and of the lines
    of following blocks a quoted field spans into)."""
    lines = _Lines(block, following, rejections.source)
    number = block.first_line - 1
    while (raw := next(lines.current, None)) is not None:
        number += 1
        if '"' not in raw:
            stripped = raw.rstrip("\r\n")
            if stripped:
                yield number, stripped.split(delimiter)
            continue
        start, spanned = number, [0]

        def more(first: str = raw, spanned: list[int] = spanned) -> Iterator[str]:
            yield first
            for line in lines.spill():
                spanned[0] += 1
                yield line

        try:
            record = next(csv.reader(more(), delimiter=delimiter, strict=True))
        except StopIteration:
            record = []
        except csv.Error as exc:
            rejections.add(start, f"unreadable CSV: {exc}")
            record = []
        number += spanned[0]
        if record:
            yield start, record


def file_records(binary: BinaryIO, header: Header, *, rejections: Rejections) -> Records:
    """Every record after the header, block by block, with the exact parser."""
    following = blocks(binary, first_line=2)
    for block in following:
        yield from block_records(
            block, following, delimiter=header.delimiter, rejections=rejections
        )


def _columnar_eligible(data: bytes) -> bool:
    """No quote, and CR only in CRLF: every line is one record for Arrow's reader (blank
    lines, which it skips, show in its row count)."""
    return b'"' not in data and (b"\r" not in data or data.count(b"\r") == data.count(b"\r\n"))


def columnar_read(block: Block, header: Header, columns: tuple[str, ...]) -> pyarrow.Table | None:
    """The block's raw values of ``columns`` (as text, one row per line), or None when the
    block needs the exact parser: a quote, a blank line or a lone CR in it, a wrong number of
    fields, or bytes that are not UTF-8. The row count must be the block's line count."""
    if not _columnar_eligible(block.data):
        return None
    names = [f"c{i}" for i in range(header.width)]
    wanted = [names[header.columns[name]] for name in columns]
    try:
        table = pacsv.read_csv(
            pyarrow.py_buffer(block.data),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pacsv.ParseOptions(
                delimiter=header.delimiter,
                quote_char=False,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=True,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pyarrow.string()),
                include_columns=wanted,
                strings_can_be_null=False,
            ),
        )
    except pyarrow.ArrowInvalid:
        return None
    if table.num_rows != block.lines:
        return None
    return table.select(wanted).rename_columns(list(columns))
