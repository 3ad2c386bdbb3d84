"""Hot reload: watch ``automations/`` and ``harness/`` and swap in a new config when valid.

A valid edit replaces the config that new runs use; running runs keep the Automation object
they started with. An invalid edit keeps the last good config and logs every
``FILE:LINE:COL`` issue once per distinct state of the files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import structlog

from factory.config.loader import FactoryConfig, load_factory
from factory.errors import ConfigError

log = structlog.get_logger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(*folders: Path) -> Fingerprint:
    """Return (path, mtime_ns, size) of every file under ``folders``, sorted."""
    entries = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.rglob("*"):
            try:
                if path.is_file():
                    stat = path.stat()
                    entries.append((str(path), stat.st_mtime_ns, stat.st_size))
            except FileNotFoundError:
                continue  # an editor's temporary file came and went
    return tuple(sorted(entries))


class ConfigWatcher:
    """Holds the current config and reloads it when the files change."""

    def __init__(
        self,
        automations_dir: Path,
        harness_dir: Path,
        *,
        on_change: Callable[[FactoryConfig], None] = lambda config: None,
        interval_s: float = 1.0,
    ) -> None:
        """Load the config once; raises ConfigError if it is invalid at start."""
        self.automations_dir = automations_dir
        self.harness_dir = harness_dir
        self.on_change = on_change
        self.interval_s = interval_s
        self._seen = fingerprint(automations_dir, harness_dir)
        self._config = load_factory(automations_dir, harness_dir)
        self._lock = threading.Lock()
        self.last_errors: list[str] = []

    @property
    def config(self) -> FactoryConfig:
        """The last good config."""
        with self._lock:
            return self._config

    def check(self) -> bool:
        """Reload if the files changed; return True when a new config was swapped in."""
        current = fingerprint(self.automations_dir, self.harness_dir)
        if current == self._seen:
            return False
        self._seen = current
        try:
            config = load_factory(self.automations_dir, self.harness_dir)
        except ConfigError as exc:
            self.last_errors = [str(issue) for issue in exc.issues]
            for issue in exc.issues:
                log.error("config_invalid", issue=str(issue), kept="last good version")
            return False
        with self._lock:
            self._config = config
        self.last_errors = []
        log.info("config_reloaded", automations=sorted(config.automations))
        self.on_change(config)
        return True

    def run(self, stop: threading.Event) -> None:
        """Poll for changes every ``interval_s`` until ``stop`` is set."""
        while not stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:  # the watcher must keep watching; the error is logged
                log.exception("config_reload_failed")
