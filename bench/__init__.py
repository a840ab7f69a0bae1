"""Benchmarks: each module starts what it measures and prints figures and ratios from one run."""
