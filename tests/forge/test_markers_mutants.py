"""Tests that kill mutants `make mutants` found alive in the markers module."""

from __future__ import annotations
