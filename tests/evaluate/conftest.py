"""Fixtures of the evaluate tests (helpers live in eval_fixtures.py: unique module name)."""

from eval_fixtures import tiny

__all__ = ["tiny"]
