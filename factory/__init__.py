"""factoryd: a single-host daemon that runs a software factory of sandboxed LLM automations."""

from __future__ import annotations

__version__ = "0.1.0"
