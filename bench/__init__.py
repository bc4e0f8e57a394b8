"""Benchmarks: production server + load generator, figures stored in bench/results/."""
