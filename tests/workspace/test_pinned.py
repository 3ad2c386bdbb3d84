"""`workspace: merge-commit`: a verifier's workspace is the merged commit, not the branch tip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from factory.config.loader import load_factory
from factory.events import Event, Subject
from factory.workspace import Mirror, Workspaces
from factory.workspace.pinned import merge_sha_of, ref_for
from tests.workspace.conftest import Remote, git
from tests.workspace.overlay_fixtures import MakeOverlays, make_overlays, needs_root

__all__ = ["make_overlays"]  # the fixture, used by name

SHA = "a" * 40
ROOT = Path(__file__).resolve().parents[2]


def _event(payload: dict[str, Any]) -> Event:
    subject = Subject(kind="pull_request", number=7)
    return Event(source="github", kind="push", dedup_key="k", subject=subject, payload=payload)


def _merged(sha: str) -> dict[str, Any]:
    return {"_factory": {"merged_pull": {"number": 7, "merge_sha": sha}}}


def test_merge_sha_comes_from_the_daemons_merged_pull_entry() -> None:
    """A derived merge event gives the merge sha the daemon recorded."""
    assert merge_sha_of(_event(_merged(SHA))) == SHA


def test_merge_sha_comes_from_a_merged_pull_request_payload() -> None:
    """A `pull_request` closed-and-merged webhook gives its merge_commit_sha."""
    payload = {"pull_request": {"merged": True, "merge_commit_sha": SHA}}
    assert merge_sha_of(_event(payload)) == SHA


def test_an_unmerged_pull_request_has_no_merge_sha() -> None:
    """A closed but unmerged pull request's test-merge sha is not a merge commit."""
    payload = {"pull_request": {"merged": False, "merge_commit_sha": SHA}}
    assert merge_sha_of(_event(payload)) is None


@pytest.mark.parametrize("bad", ["HEAD", "main", "a" * 39, f"{'a' * 40}\n", "--all", 7])
def test_a_merge_sha_that_is_no_sha_is_ignored(bad: object) -> None:
    """Anything but 40 or 64 lowercase hex digits is not taken as a commit to check out."""
    assert merge_sha_of(_event(_merged(bad))) is None  # type: ignore[arg-type]


def test_merge_commit_mode_checks_out_the_merge_sha() -> None:
    """Mode merge-commit gives the event's merge sha as the ref."""
    assert ref_for("merge-commit", pull_number=7, event=_event(_merged(SHA))) == SHA


def test_merge_commit_mode_without_a_merge_sha_is_refused() -> None:
    """Mode merge-commit for an event without a merge sha raises ValueError, never the tip."""
    with pytest.raises(ValueError, match="merge-commit"):
        ref_for("merge-commit", pull_number=7, event=_event({}))


def test_other_modes_are_unchanged() -> None:
    """default-branch and pull-request give what they gave before."""
    event = _event(_merged(SHA))
    both = (ref_for("default-branch", None, event), ref_for("pull-request", 7, event))
    assert both == (None, "refs/pull/7/head")


def test_post_merge_verifier_is_pinned_to_the_merge_commit() -> None:
    """The shipped post-merge verifier validates with `workspace: merge-commit`."""
    factory = load_factory(ROOT / "automations", ROOT / "harness")
    assert factory.automations["post-merge-verifier"].workspace == "merge-commit"


def _moved_on(remote: Remote, mirror: Mirror) -> str:
    """Commit past the merge on main and fetch; return the merge (the old tip)."""
    merged = remote.shas["main"]
    remote.commit({"later.txt": "later\n"}, "after the merge", "main")
    mirror.fetch()
    return merged


def test_full_checkout_is_the_merge_commit_after_main_moved(
    data: Path, mirror: Mirror, remote: Remote
) -> None:
    """With main moved past the merge, the workspace's HEAD is still the merge commit."""
    merged = _moved_on(remote, mirror)
    ws = Workspaces(data, mirror).prepare(
        "RUN1", ref_for("merge-commit", 7, _event(_merged(merged)))
    )
    assert (ws.base_sha, git("rev-parse", "HEAD", cwd=ws.path)) == (merged, merged)


@needs_root
def test_overlay_is_the_merge_commit_after_main_moved(
    make_overlays: MakeOverlays, mirror: Mirror, remote: Remote
) -> None:
    """An overlay workspace pinned to the merge commit has it checked out, main moved or not."""
    merged = _moved_on(remote, mirror)
    ws = make_overlays().prepare("RUN1", ref_for("merge-commit", 7, _event(_merged(merged))))
    files = sorted(p.name for p in ws.path.iterdir() if p.name != ".git")
    assert (git("rev-parse", "HEAD", cwd=ws.path), files) == (merged, ["README.md", "docs", "src"])
