"""Tests that kill mutants `make mutants` found alive in the patch_policy module."""

from __future__ import annotations
