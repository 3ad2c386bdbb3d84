"""Tests that kill mutants `make mutants` found alive in the risk module."""

from __future__ import annotations
