"""Write a synthetic streaming log, subscribers file and track metadata, for tests and benchmarks.

The distribution is skewed the way real listening is: track popularity and user activity follow
a Zipf-like law, labels own very different numbers of tracks, stream lengths vary from a short
movement to a whole symphony. The same ``--seed`` writes the same files.
"""

import itertools
import json
import random
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

CHUNK_ROWS = 100_000
REGIONS = ["NL", "US", "DE", "GB", "FR", "BE", "SE", "JP", "nl", "us"]
REGION_WEIGHTS = [30, 25, 12, 10, 8, 5, 4, 3, 2, 1]
PRODUCTS = [("premium", "7,99"), ("platinum", "14,99"), ("student", "4,99")]


def _zipf_cumulative(count: int, exponent: float) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, count + 1)))


class Command(BaseCommand):
    # Nothing here depends on the system checks; skipping them saves start-up time.
    requires_system_checks: list = []

    help = "Write streaming.csv, users.csv and tracks.json with a realistic, skewed distribution."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--rows",
            type=int,
            default=1_000_000,
            help="rows of the streaming log (default: %(default)s)",
        )
        parser.add_argument(
            "--users", type=int, default=100_000, help="subscribers (default: %(default)s)"
        )
        parser.add_argument(
            "--tracks",
            type=int,
            default=50_000,
            help="tracks in the metadata (default: %(default)s)",
        )
        parser.add_argument(
            "--labels",
            type=int,
            default=500,
            help="labels the tracks belong to (default: %(default)s)",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=1,
            help="random seed (same seed, same files) (default: %(default)s)",
        )
        parser.add_argument("--out", default=".", help="directory to write the three files to")

    def handle(self, *args, **options) -> None:
        rows, users, tracks, labels = (
            options["rows"],
            options["users"],
            options["tracks"],
            options["labels"],
        )
        if rows < 0 or users < 1 or tracks < 1 or labels < 1:
            raise CommandError("--rows must be >= 0; --users, --tracks, --labels >= 1")
        if labels > tracks:
            raise CommandError("--labels cannot exceed --tracks")
        if users > 8_999_999:
            raise CommandError("--users is at most 8,999,999 (7-digit user ids)")
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        rng = random.Random(options["seed"])

        user_ids = [str(n) for n in rng.sample(range(1_000_000, 10_000_000), users)]
        track_ids = [f"{rng.getrandbits(128):032x}" for _ in range(tracks)]
        _tracks_write(out / "tracks.json", rng, track_ids, labels)
        _users_write(out / "users.csv", rng, user_ids)
        _streams_write(out / "streaming.csv", rng, rows, user_ids, track_ids)
        self.stdout.write(
            f"wrote {rows:,} streams, {users:,} users, {tracks:,} tracks, {labels:,} labels "
            f"to {out}"
        )


def _tracks_write(path: Path, rng: random.Random, track_ids: list[str], labels: int) -> None:
    # Every label owns at least one track; the rest go to labels by a skewed law.
    label_names = [f"label {n}" for n in range(1, labels + 1)]
    track_labels = label_names + rng.choices(
        label_names, cum_weights=_zipf_cumulative(labels, 1.0), k=len(track_ids) - labels
    )
    rng.shuffle(track_labels)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(
            [
                {"track_id": track_id, "track_name": f"track name {n}", "label": label}
                for n, (track_id, label) in enumerate(
                    zip(track_ids, track_labels, strict=True), start=1
                )
            ],
            handle,
            indent=1,
        )


def _users_write(path: Path, rng: random.Random, user_ids: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("user_id;product_type;fee;origin\r\n")
        for user_id in user_ids:
            product, fee = PRODUCTS[rng.randrange(len(PRODUCTS))]
            origin = "app_store" if rng.random() < 0.55 else "web"
            handle.write(f"{user_id};{product};{fee};{origin}\r\n")


def _streams_write(
    path: Path, rng: random.Random, rows: int, user_ids: list[str], track_ids: list[str]
) -> None:
    dates = [f"{day:02d}/03/2019" for day in range(1, 32)]
    # Movement-length to symphony-length streams, most of them a few minutes.
    seconds_pool = [str(int(rng.lognormvariate(5.5, 0.8)) + 1) for _ in range(10_000)]
    user_weights = _zipf_cumulative(len(user_ids), 0.8)
    track_weights = _zipf_cumulative(len(track_ids), 1.0)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("date;user_id;region;track id;seconds\n")
        left = rows
        while left > 0:
            size = min(CHUNK_ROWS, left)
            left -= size
            columns = zip(
                rng.choices(dates, k=size),
                rng.choices(user_ids, cum_weights=user_weights, k=size),
                rng.choices(REGIONS, weights=REGION_WEIGHTS, k=size),
                rng.choices(track_ids, cum_weights=track_weights, k=size),
                rng.choices(seconds_pool, k=size),
                strict=True,
            )
            handle.write("\n".join(map(";".join, columns)))
            if left:
                handle.write("\n")
