"""Tests that kill mutants `make mutants` found alive in factory/config/harness.py."""

from __future__ import annotations

import shutil
from pathlib import Path

from factory.config.harness import ModelPrice, load_harness, read_harness
from factory.errors import ConfigIssue
from factory.interfaces import Usage

ROOT = Path(__file__).resolve().parents[2]


def test_a_million_tokens_cost_the_price_per_million() -> None:
    """Prices are per million tokens: one million input tokens cost exactly the input price."""
    price = ModelPrice(input=3.0, output=15.0, cache_write=3.75, cache_read=0.3)
    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    assert price.cost_usd(usage) == 3.0


def test_missing_policy_file_is_one_issue_at_line_1_col_1(tmp_path: Path) -> None:
    """A harness folder without policy.yaml gives no harness and one issue at 1:1."""
    issue = ConfigIssue(str(tmp_path / "policy.yaml"), 1, 1, "missing harness policy file")
    assert read_harness(tmp_path) == (None, [issue])


def test_document_is_read_as_utf_8(tmp_path: Path) -> None:
    """A harness document is decoded as UTF-8, non-ASCII text included."""
    harness_dir = Path(shutil.copytree(ROOT / "harness", tmp_path / "harness"))
    (harness_dir / "note.md").write_bytes("Grüße — ✓\n".encode())
    assert load_harness(harness_dir).document("harness/note.md") == "Grüße — ✓\n"


# Equivalent mutants (no test can kill them):
# - x_read_harness__mutmut_19 / _21: `load_yaml(policy_path, str(policy_path))` -> the name
#   None or left out: load_yaml names the file `str(path)` when no name is given.
# - x_load_harness__mutmut_3: `harness is None or issues` -> `and`: read_harness returns
#   either (None, a non-empty list) or (a harness, []), so both conditions agree.
# - xǁHarnessǁdocument__mutmut_3: `decode("utf-8")` -> `decode("UTF-8")`: codec names are
#   case-insensitive.
