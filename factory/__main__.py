"""``python -m factory``: the same as the ``factoryd`` command."""

from __future__ import annotations

from factory.cli import main

main()
