"""Benchmarks, run by `make bench` against a throwaway PostgreSQL; never run as tests.

Each module listed in `bench.__main__.MODULES` exposes `run() -> str`, a Markdown section body.
"""
