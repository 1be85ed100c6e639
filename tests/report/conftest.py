"""Fixtures of the report tests (helpers live in report_fixtures.py: unique module name)."""

from report_fixtures import results_dir

__all__ = ["results_dir"]
