"""Benchmarks: ``python -m bench [NAME ...]`` (``make bench [BENCH=NAME]``).

Each ``bench/<name>.py`` module defines ``run() -> dict`` and is measured side by
side with its peer or limit in one run; results go to ``bench/results/<name>.json``.
"""
