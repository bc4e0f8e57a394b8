"""The platform's full settings plus one empty DRF view, for the middleware + DRF figure.

Used only by the benchmarks (DJANGO_SETTINGS_MODULE=bench.full_stack); production URLs stay clean.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.full_stack_urls"
