"""The ceiling: an empty Django view without middleware, and through the full stack.

Also compares the candidate production servers on both (docs/decisions/0001-web-server.md).
"""

from bench.harness import Harness

NAME = "ceiling"
DESCRIPTION = (
    "Empty Django JSON view with no middleware (the ceiling), and an empty DRF view behind the "
    "platform's full middleware and DRF stack; 32 connections; gunicorn (sync and gthread) and "
    "granian (WSGI) compared."
)
SERVERS = ("gunicorn", "gunicorn-gthread", "granian")


def run(h: Harness) -> dict:
    figures: dict = {}
    for kind in SERVERS:
        with h.server(app="bench.ceiling_app:application", kind=kind, probe_path="/empty") as base:
            empty = h.wrk(base + "/empty")
        with h.server(settings="bench.full_stack", kind=kind, probe_path="/bench/empty") as base:
            full = h.wrk(base + "/bench/empty")
        figures[kind] = {
            "empty_view": empty,
            "full_stack": full,
            "full_stack_vs_empty": round(full["requests_per_s"] / empty["requests_per_s"], 3)
            if empty["requests_per_s"]
            else None,
        }
    best = max(SERVERS, key=lambda kind: figures[kind]["full_stack"]["requests_per_s"])
    figures["fastest_full_stack"] = best
    figures["notes"] = (
        "The platform serves with granian (WSGI, one worker per core, one blocking thread "
        "each); gunicorn runs 2 x cores + 1 workers. See docs/decisions/0001-web-server.md "
        "for the choice. Other scenarios compare against granian's empty_view figure."
    )
    return figures
