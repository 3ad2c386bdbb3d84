"""Tests that kill mutants `make mutants` found alive in the outputs module."""

from __future__ import annotations
