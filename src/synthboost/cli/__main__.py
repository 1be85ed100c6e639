"""``python -m synthboost.cli``: the ``synthboost`` command."""

from synthboost.cli import main

main()
