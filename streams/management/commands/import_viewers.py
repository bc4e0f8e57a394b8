"""Create or update viewers from a CSV file: header ``user_id,max_streams``.

``max_streams`` is optional: as a column (an empty cell means the platform default) and as a
whole (without the column, missing viewers are created with the default limit and existing
ones keep theirs). Rejected lines are reported with their line numbers; the valid ones are
imported. A file that cannot be read as such a CSV stops the command with a non-zero exit.
"""

import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from streams.services import MAX_STREAMS_LIMIT, viewers_upsert

MAX_REPORTED_REJECTIONS = 50


class Command(BaseCommand):
    help = "Create or update viewers from a CSV file with the header user_id,max_streams."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="CSV file (UTF-8), header user_id,max_streams")

    def handle(self, *args, **options) -> None:
        path: Path = options["file"]
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                limits, rejected, has_limit_column = self._parse(handle)
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise CommandError(f"{path}: is a directory") from None
        except PermissionError:
            raise CommandError(f"{path}: permission denied") from None
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
        except csv.Error as exc:
            raise CommandError(f"{path}: not a readable CSV file ({exc})") from None

        for line_number, reason in rejected[:MAX_REPORTED_REJECTIONS]:
            self.stderr.write(f"line {line_number}: rejected: {reason}")
        if len(rejected) > MAX_REPORTED_REJECTIONS:
            self.stderr.write(f"... and {len(rejected) - MAX_REPORTED_REJECTIONS} more rejected")

        result = viewers_upsert(limits=limits, update_existing=has_limit_column)
        self.stdout.write(
            self.style.SUCCESS(
                f"viewers imported: {result.created} created, {result.updated} updated, "
                f"{len(rejected)} line(s) rejected"
            )
        )

    @staticmethod
    def _parse(handle) -> tuple[dict[str, int | None], list[tuple[int, str]], bool]:
        reader = csv.reader(handle)
        columns = _columns(next(reader, None))
        user_index = columns.index("user_id")
        limit_index = columns.index("max_streams") if "max_streams" in columns else None

        limits: dict[str, int | None] = {}
        rejected: list[tuple[int, str]] = []
        seen_at: dict[str, int] = {}
        for row in reader:
            line_number = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            try:
                user_id, max_streams = _row_parse(row, len(columns), user_index, limit_index)
                if user_id in seen_at:
                    raise ValueError(
                        f"user_id {user_id!r} already given on line {seen_at[user_id]}"
                    )
            except ValueError as exc:
                rejected.append((line_number, str(exc)))
                continue
            seen_at[user_id] = line_number
            limits[user_id] = max_streams
        return limits, rejected, limit_index is not None


def _columns(header: list[str] | None) -> list[str]:
    """The header's column names; CommandError when it is not ``user_id[,max_streams]``."""
    if header is None:
        raise CommandError("the file is empty (expected the header user_id,max_streams)")
    columns = [name.strip().lower() for name in header]
    if "user_id" not in columns:
        raise CommandError(
            f"the header has no user_id column (got {','.join(header)!r}; "
            "expected user_id,max_streams)"
        )
    unknown = sorted(set(columns) - {"user_id", "max_streams"})
    if unknown or len(set(columns)) != len(columns):
        raise CommandError(f"unexpected header {','.join(header)!r}: expected user_id,max_streams")
    return columns


def _row_parse(
    row: list[str], width: int, user_index: int, limit_index: int | None
) -> tuple[str, int | None]:
    """``(user_id, max_streams)`` of one line; ValueError naming what is wrong."""
    if len(row) != width:
        raise ValueError(f"{len(row)} field(s), expected {width}")
    user_id = row[user_index].strip()
    if not user_id:
        raise ValueError("user_id is empty")
    if len(user_id) > 255:
        raise ValueError("user_id is longer than 255 characters")
    if "\x00" in user_id:
        raise ValueError("user_id contains a NUL character")
    raw = row[limit_index].strip() if limit_index is not None else ""
    if not raw:
        return user_id, None
    try:
        max_streams = int(raw)
    except ValueError:
        raise ValueError(f"max_streams {raw!r} is not a whole number") from None
    if not 1 <= max_streams <= MAX_STREAMS_LIMIT:
        raise ValueError(f"max_streams {max_streams} is not in 1..{MAX_STREAMS_LIMIT}")
    return user_id, max_streams
