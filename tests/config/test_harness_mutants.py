"""Tests that kill mutants `make mutants` found alive in factory/config/harness.py."""

from __future__ import annotations

import shutil
from pathlib import Path

from factory.config.harness import ModelPrice, TrustPolicy, load_harness, read_harness
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


def _harness(tmp_path: Path) -> Path:
    return Path(shutil.copytree(ROOT / "harness", tmp_path / "harness"))


def test_policy_with_a_duplicate_key_gives_no_harness(tmp_path: Path) -> None:
    """A policy that validates but repeats a key is refused with the YAML issue alone."""
    harness_dir = _harness(tmp_path)
    policy = harness_dir / "policy.yaml"
    policy.write_text(policy.read_text() + "required_checks: []\n")  # it has one already
    harness, issues = read_harness(harness_dir)
    assert (harness, [i.message.split(" (")[0] for i in issues]) == (
        None,
        ["duplicate key 'required_checks'"],
    )


def test_policy_syntax_error_names_the_policy_file(tmp_path: Path) -> None:
    """An issue of a policy that does not parse names the policy file's path."""
    harness_dir = _harness(tmp_path)
    (harness_dir / "policy.yaml").write_text("risk_tiers: [\n")
    _, issues = read_harness(harness_dir)
    assert {i.file for i in issues} == {str(harness_dir / "policy.yaml")}


def test_documents_in_subfolders_are_read_by_their_path(tmp_path: Path) -> None:
    """A document in a subfolder is keyed by its path; the folder itself is no document."""
    harness_dir = _harness(tmp_path)
    (harness_dir / "guides").mkdir()
    (harness_dir / "guides" / "style.md").write_text("Be brief.\n")
    harness = load_harness(harness_dir)
    assert (harness.document("harness/guides/style.md"), "harness/guides" in harness.documents) == (
        "Be brief.\n",
        False,
    )


def test_harness_keeps_the_folder_it_was_loaded_from(tmp_path: Path) -> None:
    """The loaded harness's root is the folder as the caller named it."""
    harness_dir = _harness(tmp_path)
    assert load_harness(harness_dir).root == harness_dir


# Equivalent mutants (no test can kill them):
# - x_read_harness__mutmut_19 / _21: `load_yaml(policy_path, str(policy_path))` -> the name
#   None or left out: load_yaml names the file `str(path)` when no name is given.
# - x_load_harness__mutmut_3: `harness is None or issues` -> `and`: read_harness returns
#   either (None, a non-empty list) or (a harness, []), so both conditions agree.
# - xǁHarnessǁdocument__mutmut_3: `decode("utf-8")` -> `decode("UTF-8")`: codec names are
#   case-insensitive.
# - x_read_harness__mutmut_23: `policy = None` -> `policy = ""` before parsing: the value is
#   read only when load_yaml gave no document, and then it always gave an issue too
#   ("file is empty" at least), so `policy is None or issues` is true either way.


def test_a_granted_data_level_never_outranks_the_default() -> None:
    """Trust is ranked by TRUST_ORDER, not by name: a granted ``data`` leaves ``anyone``."""
    assert TrustPolicy().trust_of(granted=["data"]) == "anyone"
