"""Track metadata ("Metadata API"): a JSON array of ``{track_id, track_name, label}`` from a
file or fetched from an http(s) URL (timeout, retries with backoff), or the as-published shape
whose keys are the first track's values (that track is lost; a warning names it)."""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from django.conf import settings

from royalties.inputs.csvfile import InputError

logger = logging.getLogger(__name__)

MAX_ID_LENGTH = 100
MAX_TEXT_LENGTH = 500


@dataclass(frozen=True)
class Metadata:
    tracks: dict[str, tuple[str, str]]  # track_id -> (name, label)
    warnings: list[str]


def _keys_of(first: dict[str, object], *, source: str) -> tuple[str, str, list[str]]:
    """The keys of the name and the label, and the warnings the shape calls for."""
    keys = list(first)
    if {"track_id", "track_name", "label"} <= set(keys):
        return "track_name", "label", []
    if len(keys) == 3 and keys[0] == "track_id":
        # The as-published shape: a CSV converted with its first data row as the header, so
        # the first track's name and label became the keys and its id is nowhere.
        name_key, label_key = keys[1], keys[2]
        warning = (
            f"track metadata is in the as-published shape: the first track "
            f"('{name_key}', label '{label_key}') was lost in the conversion; its id is "
            f"unknown, so its streams are unattributed."
        )
        return name_key, label_key, [warning]
    raise InputError(
        f"{source}: unrecognised track fields {keys} (expected track_id, track_name, label)."
    )


def _text(value: object) -> str:
    """A field's text, stripped ("" when it is missing or not a string or a number)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int):
        return str(value).strip()
    return ""


def _metadata_parse(data: object, *, source: str) -> Metadata:
    if not isinstance(data, list):
        raise InputError(f"{source}: expected a JSON array of tracks, got {type(data).__name__}.")
    if not data:
        raise InputError(f"{source}: the metadata lists no track.")
    if not isinstance(data[0], dict):
        raise InputError(f"{source}: item 0 is not an object.")
    name_key, label_key, warnings = _keys_of(data[0], source=source)
    tracks: dict[str, tuple[str, str]] = {}
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise InputError(f"{source}: item {index} is not an object.")
        track_id = _text(item.get("track_id"))
        name, label = _text(item.get(name_key)), _text(item.get(label_key))
        if not (track_id and name and label):
            raise InputError(
                f"{source}: item {index} needs non-empty track_id, {name_key} and {label_key}."
            )
        if len(track_id) > MAX_ID_LENGTH or max(len(name), len(label)) > MAX_TEXT_LENGTH:
            raise InputError(f"{source}: item {index} has a field that is too long.")
        known = tracks.setdefault(track_id, (name, label))
        if known != (name, label):
            raise InputError(
                f"{source}: track {track_id} is listed twice with different name or label "
                f"(item {index})."
            )
    return Metadata(tracks=tracks, warnings=warnings)


def metadata_read(path: str | Path, *, source: str = "tracks") -> Metadata:
    # The metadata grows with the number of tracks, not of streams: reading it whole is allowed.
    try:
        with open(path, "rb") as handle:
            data = json.load(handle)
    except UnicodeDecodeError:
        raise InputError(f"{source}: the file is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: not valid JSON ({exc}).") from None
    return _metadata_parse(data, source=source)


class _RetryableError(Exception):
    pass


def _fetch_once(url: str, *, dest: Path, timeout: int) -> None:
    with requests.get(url, timeout=timeout, stream=True) as response:
        if response.status_code == 429 or response.status_code >= 500:
            raise _RetryableError(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise InputError(f"tracks: the metadata URL answered HTTP {response.status_code}.")
        with open(dest, "wb") as out:
            for chunk in response.iter_content(chunk_size=1 << 16):
                out.write(chunk)


def metadata_fetch(
    url: str,
    *,
    dest: Path,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Download the metadata at ``url`` into ``dest``, retrying network errors, 429 and 5xx."""
    attempts = max(1, settings.ROYALTIES_METADATA_RETRIES + 1)
    backoff = float(settings.ROYALTIES_METADATA_BACKOFF_SECONDS)
    dest.parent.mkdir(parents=True, exist_ok=True)
    last_problem = ""
    for attempt in range(1, attempts + 1):
        try:
            _fetch_once(url, dest=dest, timeout=settings.ROYALTIES_METADATA_TIMEOUT_SECONDS)
            return
        except (_RetryableError, requests.ConnectionError, requests.Timeout) as exc:
            last_problem = str(exc) if isinstance(exc, _RetryableError) else type(exc).__name__
        except requests.RequestException as exc:
            raise InputError(f"tracks: cannot fetch the metadata URL: {exc}") from None
        logger.warning("metadata fetch attempt %s/%s failed: %s", attempt, attempts, last_problem)
        if attempt < attempts:
            sleep(min(backoff * 2 ** (attempt - 1), 30.0))
    raise InputError(
        f"tracks: the metadata URL is unavailable after {attempts} attempts (last: {last_problem})."
    )
