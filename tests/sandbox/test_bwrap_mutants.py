"""Tests that kill mutants `make mutants` found alive in the bwrap module."""

from __future__ import annotations
