"""Smoke tests of benchmarks/: each script at its smallest size, so the benchmarks cannot rot."""
