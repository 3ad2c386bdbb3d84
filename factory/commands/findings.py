"""What ``factoryd doctor``'s checks return, and how the command prints it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from factory.settings import Settings


@dataclass(frozen=True)
class Finding:
    """One check's result: ``ok``, what was found, and (when not ok) how to fix it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


Check = Callable[[Settings], list[Finding]]


def ok(name: str, detail: str) -> list[Finding]:
    """Return a passing check's one finding."""
    return [Finding(name, True, detail)]


def problem(name: str, detail: str, fix: str) -> list[Finding]:
    """Return a failing check's one finding."""
    return [Finding(name, False, detail, fix)]


def render(findings: list[Finding]) -> str:
    """Return the findings as text: ``ok``/``FAIL`` lines, each failure's fix under it."""
    lines: list[str] = []
    for f in findings:
        lines.append(f"{'ok  ' if f.ok else 'FAIL'}  {f.name}: {f.detail}")
        if not f.ok:
            lines.append(f"      fix: {f.fix}")
    failed = sum(not f.ok for f in findings)
    lines.append(f"{failed} problem(s)" if failed else "all checks passed")
    return "\n".join(lines)
