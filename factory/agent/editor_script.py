"""The file editor that runs INSIDE the sandbox: ``python3 -c SOURCE``, JSON on stdin.

Standard library only. It reads ``{"command", "path", …}`` from stdin, confines the
path to the current directory (the workspace) after resolving symlinks, does the edit,
and prints ``{"ok": bool, "output": str}`` on stdout.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

ENCODING = "utf-8"
ERRORS = "surrogateescape"
MAX_LISTING = 400


class EditError(Exception):
    """The edit cannot be done; the message goes back to the model."""


def resolve(path: object) -> str:
    """Return the real path of ``path`` under the workspace; raise EditError outside it."""
    if not isinstance(path, str) or not path:
        raise EditError("'path' must be a non-empty string")
    root = os.path.realpath(os.getcwd())
    full = os.path.realpath(os.path.join(root, path))
    if os.path.commonpath([root, full]) != root:
        raise EditError(f"path {path!r} is outside the workspace")
    return full


def relative(full: str) -> str:
    """Return ``full`` relative to the workspace, for messages."""
    return os.path.relpath(full, os.path.realpath(os.getcwd()))


def read_text(full: str) -> str:
    """Return the file's text; raise EditError if it is missing or a directory."""
    if not os.path.isfile(full):
        raise EditError(f"{relative(full)} does not exist or is not a file")
    with open(full, encoding=ENCODING, errors=ERRORS) as handle:
        return handle.read()


def write_text(full: str, text: str) -> None:
    """Write ``text`` to ``full``, creating parent directories."""
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding=ENCODING, errors=ERRORS) as handle:
        handle.write(text)


def numbered(text: str, first: int = 1) -> str:
    """Return ``text`` with right-aligned line numbers starting at ``first``."""
    lines = text.split("\n")
    return "\n".join(f"{n:6}\t{line}" for n, line in enumerate(lines, start=first))


def view(args: dict[str, Any]) -> str:
    """Return a numbered file (optionally a line range) or a two-level directory listing."""
    full = resolve(args.get("path"))
    if os.path.isdir(full):
        entries = []
        for dirpath, dirnames, filenames in os.walk(full):
            depth = os.path.relpath(dirpath, full).count(os.sep) + (dirpath != full)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and depth < 2)
            entries += [os.path.join(dirpath, d) + "/" for d in dirnames]
            entries += [os.path.join(dirpath, f) for f in filenames if not f.startswith(".")]
        shown = sorted(relative(e) + ("/" if e.endswith("/") else "") for e in entries)
        more = f"\n… {len(shown) - MAX_LISTING} more" if len(shown) > MAX_LISTING else ""
        return "\n".join(shown[:MAX_LISTING]) + more
    text = read_text(full)
    view_range = args.get("view_range")
    if view_range is None:
        return numbered(text)
    lines = text.split("\n")
    if (
        not isinstance(view_range, list)
        or len(view_range) != 2
        or not all(isinstance(n, int) for n in view_range)
    ):
        raise EditError("'view_range' must be [start, end] line numbers (end -1 = last line)")
    start, end = view_range
    end = len(lines) if end == -1 else end
    if not 1 <= start <= len(lines) or end < start or end > len(lines):
        raise EditError(f"view_range {view_range} is outside lines 1..{len(lines)}")
    return numbered("\n".join(lines[start - 1 : end]), first=start)


def create(args: dict[str, Any]) -> str:
    """Write ``file_text`` to ``path`` (overwriting); return a confirmation."""
    full = resolve(args.get("path"))
    file_text = args.get("file_text")
    if not isinstance(file_text, str):
        raise EditError("'file_text' must be a string")
    if os.path.isdir(full):
        raise EditError(f"{relative(full)} is a directory")
    write_text(full, file_text)
    return f"created {relative(full)}"


def str_replace(args: dict[str, Any]) -> str:
    """Replace ``old_str`` by ``new_str``; it must occur exactly once."""
    full = resolve(args.get("path"))
    old, new = args.get("old_str"), args.get("new_str", "")
    if not isinstance(old, str) or not old or not isinstance(new, str):
        raise EditError("'old_str' must be a non-empty string and 'new_str' a string")
    text = read_text(full)
    count = text.count(old)
    if count == 0:
        raise EditError(f"no match for old_str in {relative(full)}; nothing was replaced")
    if count > 1:
        lines = [text[: i.start()].count("\n") + 1 for i in re.finditer(re.escape(old), text)]
        raise EditError(
            f"old_str occurs {count} times in {relative(full)} (lines {lines}); "
            "include more context so it matches exactly once"
        )
    write_text(full, text.replace(old, new, 1))
    start = text.index(old)
    line = text[:start].count("\n") + 1
    snippet = "\n".join((text.replace(old, new, 1)).split("\n")[max(0, line - 4) : line + 4])
    return f"edited {relative(full)}; around line {line}:\n" + numbered(snippet, max(1, line - 3))


def insert(args: dict[str, Any]) -> str:
    """Insert ``insert_text`` (or ``new_str``) after line ``insert_line`` (0 = at the top)."""
    full = resolve(args.get("path"))
    at = args.get("insert_line")
    new = args.get("insert_text", args.get("new_str"))
    if not isinstance(at, int) or not isinstance(new, str):
        raise EditError("'insert_line' must be an integer and 'insert_text' a string")
    text = read_text(full)
    lines = text.split("\n")
    if not 0 <= at <= len(lines):
        raise EditError(f"insert_line {at} is outside 0..{len(lines)}")
    lines[at:at] = new.split("\n")
    write_text(full, "\n".join(lines))
    return f"inserted {new.count(chr(10)) + 1} line(s) after line {at} of {relative(full)}"


COMMANDS = {"view": view, "create": create, "str_replace": str_replace, "insert": insert}


def main() -> None:
    """Read one request from stdin, run it, print the JSON answer."""
    try:
        args = json.loads(sys.stdin.read())
        if not isinstance(args, dict):
            raise EditError("the tool input must be a JSON object")
        command = COMMANDS.get(str(args.get("command")))
        if command is None:
            raise EditError(f"unknown command {args.get('command')!r}; use {sorted(COMMANDS)}")
        answer: dict[str, Any] = {"ok": True, "output": command(args)}
    except EditError as exc:
        answer = {"ok": False, "output": str(exc)}
    except OSError as exc:
        answer = {"ok": False, "output": f"{type(exc).__name__}: {exc.strerror or exc}"}
    # Undecodable bytes stay intact in files (surrogateescape) but not in the answer.
    output = answer["output"].encode(ENCODING, ERRORS).decode(ENCODING, "replace")
    sys.stdout.write(json.dumps({"ok": answer["ok"], "output": output}))


if __name__ == "__main__":
    main()
