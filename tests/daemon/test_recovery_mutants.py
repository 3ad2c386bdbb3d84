"""Tests that kill mutants `make mutants` found alive in the recovery module."""

from __future__ import annotations
