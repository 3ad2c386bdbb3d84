"""Tests that kill mutants `make mutants` found alive in the pulls module."""

from __future__ import annotations
