"""Where royalties keeps its input files (uploads and metadata snapshots)."""

from pathlib import Path

from django.conf import settings


def inputs_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "royalties" / "inputs"
