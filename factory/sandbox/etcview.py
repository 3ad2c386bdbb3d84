"""The sandbox's /etc: one read-only bind of a private copy of the allowlisted entries.

Why a copy: bubblewrap makes a bind mount plus a read-only remount per ``--ro-bind``, and
sixteen of them for the pieces of /etc were the largest part of a command's start-up cost.
The allowlisted entries (``ETC_ENTRIES``: nothing with secrets, never /etc/ssl/private) are
copied once into a directory of this process, symlinks kept as symlinks (they point into
/usr, which the sandbox has), and that one directory is bound at /etc. The copy is remade
when an entry's status (inode, size, mtime) changes, checked by ``lstat`` per command, so an
edit to /etc/resolv.conf or /etc/hosts on the host still reaches the next command. A file
changed inside an allowlisted directory without touching the directory is not noticed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

PREFIX = "factoryd-etc-"
"""Name prefix of the copies (``factoryd-etc-<pid>-<random>`` in the temp directory)."""

Signature = tuple[tuple[int, int, int, int] | None, ...]


def signature(entries: Sequence[str]) -> Signature:
    """Return the (inode, size, mtime, mode) of each entry, None for a missing one."""
    out: list[tuple[int, int, int, int] | None] = []
    for entry in entries:
        try:
            st = os.lstat(entry)
        except OSError:
            out.append(None)
            continue
        out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode))
    return tuple(out)


def copy_entries(entries: Sequence[str], dest: Path, root: Path = Path("/etc")) -> None:
    """Copy each existing entry of ``entries`` (paths under ``root``) to its place in ``dest``.

    Symlinks are copied as symlinks; an entry that is missing or unreadable is left out (as
    ``--ro-bind-try`` did). Raises OSError if ``dest`` cannot be written.
    """
    for entry in entries:
        source = Path(entry)
        target = dest / source.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if source.is_symlink():
                target.symlink_to(os.readlink(source))
            elif source.is_dir():
                shutil.copytree(source, target, symlinks=True)
            elif source.is_file():
                shutil.copy2(source, target)
        except OSError:
            continue


class EtcView:
    """A private, refreshed copy of the allowlisted /etc entries, for one sandbox instance."""

    def __init__(self, entries: Sequence[str], root: Path = Path("/etc")) -> None:
        """Remember ``entries`` (absolute paths under ``root``); nothing is copied yet.

        Raises ValueError for an entry that is not under ``root``.
        """
        bad = [e for e in entries if not Path(e).is_relative_to(root) or Path(e) == root]
        if bad:
            raise ValueError(f"etc entries must be under {root}/: {bad}")
        self.entries = tuple(entries)
        self.root = root
        self._lock = threading.Lock()
        self._dir: Path | None = None
        self._signature: Signature | None = None
        self._old: list[Path] = []

    def path(self) -> Path:
        """Return the directory to bind at /etc, copying afresh if an entry changed.

        Raises OSError if the copy cannot be made.
        """
        current = signature(self.entries)
        with self._lock:
            if self._dir is not None and current == self._signature:
                return self._dir
            fresh = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
            os.chmod(fresh, 0o755)  # noqa: S103  (like /etc: world-readable, nothing secret)
            copy_entries(self.entries, fresh, self.root)
            # The old copy may still be bound by a running command (deleting its files would
            # delete them there too): it is removed by close(), not now.
            if self._dir is not None:
                self._old.append(self._dir)
            self._dir, self._signature = fresh, current
        return fresh

    def close(self) -> None:
        """Remove the copy (a later ``path()`` makes a new one)."""
        with self._lock:
            old = [*self._old, *([self._dir] if self._dir is not None else [])]
            self._dir, self._signature, self._old = None, None, []
        for path in old:
            shutil.rmtree(path, ignore_errors=True)


_shared: dict[tuple[str, ...], EtcView] = {}
_shared_lock = threading.Lock()


def shared(entries: Sequence[str]) -> EtcView:
    """Return this process's one EtcView of ``entries`` (removed when the process exits)."""
    key = tuple(entries)
    with _shared_lock:
        if key not in _shared:
            view = _shared[key] = EtcView(key)
            atexit.register(view.close)
        return _shared[key]


def sweep_stale(tmp: Path | None = None) -> list[Path]:
    """Remove copies left by processes that are gone (a daemon killed with -9); return them."""
    removed = []
    for path in Path(tmp or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        pid_part = path.name[len(PREFIX) :].split("-", 1)[0]
        if not pid_part.isdigit() or _alive(int(pid_part)):
            continue
        if path.is_dir() and not path.is_symlink() and path.stat().st_uid == os.geteuid():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
