"""The typed records the consolidation's steps hand to each other."""

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import pyarrow

from royalties.inputs import Metadata, RejectedRow, Rejections


class Totals(NamedTuple):
    seconds: int
    streams: int


@dataclass(frozen=True)
class Inputs:
    """What the run reads, checked and checksummed."""

    streams_path: str
    users_path: str
    tracks_path: str
    checksums: dict[str, str]


@dataclass(frozen=True)
class Listing:
    """The metadata and the subscribers, read whole (they grow with tracks and users)."""

    metadata: Metadata
    subscribers: pyarrow.Table  # royalties.inputs.subscribers.SCHEMA
    rejections: Rejections
    revenue: Decimal  # exact sum of fee x share


@dataclass(frozen=True)
class Loaded:
    """The streaming log once its accepted rows are stored."""

    loaded: int
    rejections: Rejections

    @property
    def rows(self) -> dict[str, int]:
        rejected = self.rejections.count
        return {"read": self.loaded + rejected, "loaded": self.loaded, "rejected": rejected}


@dataclass(frozen=True)
class Missing:
    """Streams of ids one input lacks: users absent from the subscribers file, or tracks
    absent from the metadata."""

    ids: int
    totals: Totals
    examples: list[str]


@dataclass(frozen=True)
class LabelTotals:
    name: str
    tracks: int
    streams: int
    seconds: int


@dataclass(frozen=True)
class Payout:
    """Amounts of the labels (by name) and of the unattributed line, adding up to revenue."""

    labels: dict[str, Decimal]
    unattributed: Decimal


@dataclass(frozen=True)
class Outcome:
    """What a succeeded run stores on itself."""

    checksums: dict[str, str]
    rows: dict[str, int]
    warnings: list[str]
    errors: list[RejectedRow]
    revenue: Decimal
    total_seconds: int
    unattributed_seconds: int
    unattributed_streams: int
    unattributed_amount: Decimal


class RunFailedError(Exception):
    """The run fails with what it found so far (rows, errors, checksums)."""

    def __init__(
        self,
        message: str,
        *,
        rows: dict[str, int],
        errors: list[RejectedRow],
        checksums: dict[str, str],
    ) -> None:
        super().__init__(message)
        self.message, self.rows, self.errors, self.checksums = message, rows, errors, checksums
