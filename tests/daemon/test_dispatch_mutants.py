"""Tests that kill mutants `make mutants` found alive in the dispatch module."""

from __future__ import annotations
