"""Readers of the three inputs of a consolidation, streamed and tolerant where the spec says so
(docs/decisions/0012 and 0014). File-level problems (missing column, not UTF-8, not JSON, URL
down) raise ``InputError``; a bad row is recorded in ``Rejections`` with its physical line."""

from royalties.inputs.csvfile import InputError, RejectedRow, Rejections, file_sha256
from royalties.inputs.metadata import Metadata, metadata_fetch, metadata_read
from royalties.inputs.streams import streams_read
from royalties.inputs.subscribers import SubscriberRow, subscribers_read

__all__ = [
    "InputError",
    "Metadata",
    "RejectedRow",
    "Rejections",
    "SubscriberRow",
    "file_sha256",
    "metadata_fetch",
    "metadata_read",
    "streams_read",
    "subscribers_read",
]
