"""Tests that kill mutants `make mutants` found alive in the claims module."""

from __future__ import annotations
