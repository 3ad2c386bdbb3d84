"""Print the mutation score per module from mutmut's results in mutants/; exit 1 below the bar.

Run after ``mutmut run`` (``make mutants`` does both). The score of a module is
killed / (killed + survived + timeout + suspicious + no tests): a mutant no test runs
counts against the score, like one that survives; timeouts count against it too, since
a test that hangs on a mutant has not proved anything. Usage:
``python bench/mutation_score.py [--min 90]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

KILLED = {1, 3, 37}
"""mutmut's exit codes of a killed mutant: a test failed, pytest errored, mypy caught it."""
TIMEOUT = {36, 24, -24, 152, 255}
SURVIVED = {0}
SKIPPED = {34}
"""Mutants marked skipped (``# pragma: no mutate``) count neither way."""


@dataclass
class Tally:
    """The mutants of one module, sorted by outcome."""

    killed: int = 0
    survived: int = 0
    timeout: int = 0
    other: int = 0
    """No tests, suspicious, segfault or not checked yet."""
    not_killed: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Return the mutants that count towards the score."""
        return self.killed + self.survived + self.timeout + self.other

    @property
    def score(self) -> float:
        """Return the killed share in percent (100 for a module without mutants)."""
        return 100.0 * self.killed / self.total if self.total else 100.0

    def add(self, name: str, code: int | None) -> None:
        """Count one mutant by its exit code."""
        if code in KILLED:
            self.killed += 1
            return
        if code in SKIPPED:
            return
        if code in SURVIVED:
            self.survived += 1
        elif code in TIMEOUT:
            self.timeout += 1
        else:
            self.other += 1
        self.not_killed.append(f"{name} ({code})")


def modules() -> list[str]:
    """Return the files ``[tool.mutmut] only_mutate`` names, in its order."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return [str(path) for path in config["only_mutate"]]


def tally(module: str) -> Tally:
    """Return the outcome counts of one module from its ``mutants/<path>.meta`` file."""
    result = Tally()
    meta = ROOT / "mutants" / f"{module}.meta"
    if not meta.exists():
        return result
    for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
        result.add(name, code)
    return result


def main() -> int:
    """Print the table and return 0 when the total score reaches ``--min``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--min", type=float, default=90.0, help="lowest passing total score")
    parser.add_argument("--list", action="store_true", help="list every mutant not killed")
    args = parser.parse_args()
    total = Tally()
    rows = [(module, tally(module)) for module in modules()]
    print(f"{'module':44} {'killed':>7} {'survived':>8} {'timeout':>7} {'other':>5} {'score':>7}")
    for module, row in rows:
        print(
            f"{module:44} {row.killed:7} {row.survived:8} {row.timeout:7} {row.other:5}"
            f" {row.score:6.1f}%"
        )
        total.killed += row.killed
        total.survived += row.survived
        total.timeout += row.timeout
        total.other += row.other
        total.not_killed += row.not_killed
    print(
        f"{'total':44} {total.killed:7} {total.survived:8} {total.timeout:7} {total.other:5}"
        f" {total.score:6.1f}%"
    )
    if args.list:
        print("\n".join(total.not_killed))
    if total.total == 0:
        print("no mutation results in mutants/: run `mutmut run` first", file=sys.stderr)
        return 1
    if total.score < args.min:
        print(f"mutation score {total.score:.1f}% is below {args.min:.0f}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
