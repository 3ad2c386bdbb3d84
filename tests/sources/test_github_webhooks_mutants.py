"""Tests that kill mutants `make mutants` found alive in the github_webhooks module."""

from __future__ import annotations
