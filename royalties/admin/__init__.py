"""Admin pages of the royalties domain.

- ``runs``: the run list (what tells runs apart), the run page as a report (payout table,
  warnings, rejected rows, timings, inputs), the upload form that starts a run, re-run and the
  payout table as CSV.
- ``results``: what a run stored, one run at a time (the latest succeeded run unless another is
  chosen): labels with their payout → their tracks → each track's listeners (totals per user),
  subscribers, entries. All read-only: a succeeded run is immutable.
- ``RevenueShare`` (share of a fee paid out per origin) is editable configuration.
"""

from royalties.admin import results, runs

__all__ = ["results", "runs"]
