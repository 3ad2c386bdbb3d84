"""The run-log viewer: Starlette pages (each with a ``.json`` twin) over a read-only store."""

from __future__ import annotations

from factory.web.app import DEFAULT_PORT, build_app, serve_viewer
from factory.web.context import EnqueueManual

__all__ = ["DEFAULT_PORT", "EnqueueManual", "build_app", "serve_viewer"]
