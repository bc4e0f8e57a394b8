"""One module per scenario: ``NAME``, ``DESCRIPTION`` and ``run(h: Harness) -> dict``."""
