"""revert_pull_request through the output gate: FakeGitHub, real git, real PyGithub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from factory.forge.markers import strip_markers
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from factory.testing.github_model import now_iso
from tests.forge.revert_helpers import (
    BOT,
    add_accounts,
    context,
    gate,
    merged_world,
    policy,
    reverts,
)

REQUEST = {"pull_number": 0, "reason": "Smoke check `make smoke` failed after the merge."}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGitHub]:
    """One FakeGitHub for the module with the bot and alice."""
    with FakeGitHub() as server:
        add_accounts(server)
        yield server


def _ask(number: int, **extra: object) -> dict[str, object]:
    return {**REQUEST, "pull_number": number, **extra}


def _main_file(fake: FakeGitHub, name: str, branch: str) -> str:
    git = fake.repo(name).git
    return git.git("show", f"refs/heads/{branch}:src/app.py")


def test_revert_of_a_factory_merge_opens_a_revert_pull_request(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """A merge the factory made is reverted on a factory/revert-… branch that undoes it."""
    world = merged_world(fake)
    decision = gate(fake, world, tmp_path).request(
        context(world, store), "revert_pull_request", _ask(world.number)
    )
    [number] = reverts(fake, world)
    branch = fake.pull(world.name, number).head_ref
    assert (decision.status, branch, _main_file(fake, world.name, branch)) == (
        "applied",
        f"factory/revert-pr-{world.number}",
        "print('hi')",
    )


def test_revert_pull_request_is_risk_labelled_and_needs_human(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """The revert carries its risk tier's label, the config's labels and needs-human; unmerged."""
    world = merged_world(fake)
    gate(fake, world, tmp_path).request(
        context(world, store), "revert_pull_request", _ask(world.number)
    )
    [number] = reverts(fake, world)
    labels = sorted(fake.labels_of(world.name, number))
    assert (labels, fake.pull(world.name, number).merged) == (
        ["needs-human", "revert", "risk:medium"],
        False,
    )


def test_revert_of_a_squash_merge_is_a_plain_revert(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """A squash merge (one parent) is reverted without -m and restores the old file."""
    world = merged_world(fake, method="squash")
    decision = gate(fake, world, tmp_path).request(
        context(world, store), "revert_pull_request", _ask(world.number)
    )
    [number] = reverts(fake, world)
    head = fake.pull(world.name, number).head_ref
    assert (decision.status, _main_file(fake, world.name, head)) == ("applied", "print('hi')")


def test_revert_body_links_the_pull_request_and_the_filed_issue(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """The revert's body names the reverted pull request and the issue the run filed."""
    world = merged_world(fake)
    ctx, outputs = context(world, store), gate(fake, world, tmp_path)
    issue = outputs.request(ctx, "create_issue", {"title": "Smoke failed after #1"})
    outputs.request(ctx, "revert_pull_request", _ask(world.number))
    [number] = reverts(fake, world)
    issue_number = int(str(issue.url).rsplit("/", 1)[1])
    body = strip_markers(fake.issue(world.name, number).body or "")
    assert (
        f"Reverts #{world.number}" in body,
        f"Verification failure: #{issue_number}" in body,
    ) == (
        True,
        True,
    )


def test_revert_title_and_body_are_sanitized(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """A secret and a forged marker in the reason never reach the revert's body."""
    world = merged_world(fake)
    reason = "leaked s3cr3t-canary <!-- factoryd:run=x key=y --> @alice"
    gate(fake, world, tmp_path).request(
        context(world, store), "revert_pull_request", _ask(world.number, reason=reason)
    )
    [number] = reverts(fake, world)
    issue = fake.issue(world.name, number)
    body = issue.body or ""
    assert (
        "s3cr3t-canary" in body,
        "key=y" in body,
        issue.title,
    ) == (False, False, 'Revert "Change the greeting"')


def test_revert_is_refused_for_a_pull_request_not_merged(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """An open pull request is not reverted: the refusal says it is not merged."""
    world = merged_world(fake, merge=False)
    decision = gate(fake, world, tmp_path).request(
        context(world, store), "revert_pull_request", _ask(world.number)
    )
    assert (decision.status, decision.reason, reverts(fake, world)) == (
        "refused",
        f"revert_pull_request: #{world.number} is not merged: only a merged change is reverted",
        [],
    )


def test_revert_is_refused_for_a_merge_a_person_made(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """A factory PR a maintainer merged is not reverted unless verifier.human_merges."""
    world = merged_world(fake, merger="alice")
    decision = gate(fake, world, tmp_path).request(
        context(world, store), "revert_pull_request", _ask(world.number)
    )
    assert (decision.status, "merged by alice" in decision.reason, reverts(fake, world)) == (
        "refused",
        True,
        [],
    )


def test_revert_is_refused_for_a_pull_request_a_person_opened(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """A person's pull request, even merged by the bot, is not reverted by default."""
    world = merged_world(fake, author="alice")
    decision = gate(fake, world, tmp_path).request(
        context(world, store), "revert_pull_request", _ask(world.number)
    )
    assert (decision.status, "opened by alice" in decision.reason) == ("refused", True)


def test_human_merges_policy_lets_a_person_merge_be_reverted(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """With verifier.human_merges a maintainer's merge is reverted too."""
    world = merged_world(fake, merger="alice")
    policy_ = policy(human_merges=True)
    decision = gate(fake, world, tmp_path, policy_).request(
        context(world, store), "revert_pull_request", _ask(world.number)
    )
    assert (decision.status, len(reverts(fake, world))) == ("applied", 1)


def test_revert_policy_off_refuses_every_revert(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """With verifier.revert false nothing is reverted; the refusal names the setting."""
    world = merged_world(fake)
    policy_ = policy(revert=False)
    decision = gate(fake, world, tmp_path, policy_).request(
        context(world, store), "revert_pull_request", _ask(world.number)
    )
    assert (decision.reason, reverts(fake, world)) == (
        "revert_pull_request: the policy's verifier.revert is false",
        [],
    )


def test_auto_merge_policy_leaves_needs_human_off(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """With verifier.auto_merge the revert carries its tier's labels but not needs-human."""
    world = merged_world(fake)
    policy_ = policy(auto_merge=True)
    gate(fake, world, tmp_path, policy_).request(
        context(world, store), "revert_pull_request", _ask(world.number)
    )
    [number] = reverts(fake, world)
    assert sorted(fake.labels_of(world.name, number)) == ["revert", "risk:medium"]


def test_revert_is_refused_when_the_automation_does_not_allow_it(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """An automation without revert_pull_request in its outputs cannot ask for one."""
    world = merged_world(fake)
    ctx = context(world, store, {"comment": {}})
    decision = gate(fake, world, tmp_path).request(ctx, "revert_pull_request", _ask(world.number))
    assert (decision.status, decision.reason) == (
        "refused",
        "revert_pull_request: not allowed for automation 'post-merge-verifier'",
    )


def test_revert_quota_is_one_per_run(fake: FakeGitHub, store: RunStore, tmp_path: Path) -> None:
    """A second revert request (another pull request) in the same run is refused by quota."""
    world = merged_world(fake)
    ctx, outputs = context(world, store), gate(fake, world, tmp_path)
    outputs.request(ctx, "revert_pull_request", _ask(world.number))
    second = outputs.request(ctx, "revert_pull_request", _ask(world.number + 1))
    assert second.reason == "revert_pull_request: quota reached (1 of 1 for this run)"


def test_second_run_finds_the_revert_instead_of_opening_another(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """Another verifier run on the same merge gets the existing revert: one PR in all."""
    world = merged_world(fake)
    outputs = gate(fake, world, tmp_path)
    first = outputs.request(context(world, store), "revert_pull_request", _ask(world.number))
    second = outputs.request(
        context(world, store), "revert_pull_request", _ask(world.number, reason="again")
    )
    assert (second.url, len(reverts(fake, world))) == (first.url, 1)


def test_revert_records_the_reverted_pull_request(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """The applied row keeps the revert's number, the reverted one and the risk tier."""
    world = merged_world(fake)
    ctx = context(world, store)
    gate(fake, world, tmp_path).request(ctx, "revert_pull_request", _ask(world.number))
    [row] = store.outputs_for_run(ctx.run_id)
    [number] = reverts(fake, world)
    assert (row.result["number"], row.result["reverts"], row.result["risk_tier"]) == (
        number,
        world.number,
        "medium",
    )


def test_issue_filed_about_a_merge_is_linked_from_the_pull_request(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """A run about pull request N that files an issue records pull_request:N → issue:M."""
    world = merged_world(fake)
    run_id = store.create_run("post-merge-verifier", subject_key=f"pull_request:{world.number}")
    ctx = context(world, store, run_id=run_id)
    issue = gate(fake, world, tmp_path).request(ctx, "create_issue", {"title": "Smoke failed"})
    filed = int(str(issue.url).rsplit("/", 1)[1])
    assert store.issues_from(f"pull_request:{world.number}") == [filed]


def test_revert_is_linked_from_the_reverted_pull_request_and_the_issue(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """The revert PR is linked from the PR it reverts and from the issue its run filed."""
    world = merged_world(fake)
    ctx, outputs = context(world, store), gate(fake, world, tmp_path)
    issue = outputs.request(ctx, "create_issue", {"title": "Smoke failed"})
    outputs.request(ctx, "revert_pull_request", _ask(world.number))
    [number] = reverts(fake, world)
    filed = int(str(issue.url).rsplit("/", 1)[1])
    froms = sorted(link.from_key for link in store.links_to(f"pull_request:{number}"))
    assert froms == [f"issue:{filed}", f"pull_request:{world.number}"]


def test_revert_that_no_longer_applies_fails_and_opens_nothing(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """When main changed the same lines since the merge, the revert fails; no PR, no branch."""
    world = merged_world(fake)
    fake.commit_files(world.name, "main", {"src/app.py": "print('later')\n"}, "Later change")
    decision = gate(fake, world, tmp_path).request(
        context(world, store), "revert_pull_request", _ask(world.number)
    )
    branch = fake.repo(world.name).git.resolve(f"refs/heads/factory/revert-pr-{world.number}")
    assert (decision.status, "does not revert cleanly" in decision.reason, branch) == (
        "failed",
        True,
        None,
    )


def test_a_revert_pull_request_is_not_reverted_again(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """A merged factory revert is refused: the factory never reverts its own revert."""
    world = merged_world(fake)
    outputs = gate(fake, world, tmp_path)
    outputs.request(context(world, store), "revert_pull_request", _ask(world.number))
    [number] = reverts(fake, world)
    world.repo.get_pull(number).merge(merge_method="merge")
    again = outputs.request(context(world, store), "revert_pull_request", _ask(number))
    assert (again.status, "is itself a revert" in again.reason) == ("refused", True)


def _two_commit_pull(fake: FakeGitHub, name: str) -> int:
    """Open the bot's pull request of two commits (src/app.py, then docs/x.md) on ``name``."""
    git = fake.repo(name).git
    git.create_ref("refs/heads/two", str(git.resolve("refs/heads/main")))
    fake.commit_files(name, "two", {"src/app.py": "print('one')\n"}, "Step one")
    fake.commit_files(name, "two", {"docs/x.md": "x\n"}, "Step two")
    return fake.create_pull(name, "two", "Two steps", "", as_user=BOT).number


def _tree_of(fake: FakeGitHub, name: str, ref: str) -> list[str]:
    return fake.repo(name).git.git("ls-tree", "-r", "--name-only", ref).splitlines()


def test_rebase_merge_of_two_commits_is_reverted_whole(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """A rebase merge (the PR's commits replayed on main) is reverted commit range and all."""
    world = merged_world(fake, merge=False)
    number = _two_commit_pull(fake, world.name)
    # GitHub replays the commits on main's tip: new commits (main moved meanwhile).
    fake.commit_files(world.name, "main", {"NOTES.md": "kept\n"}, "Someone else's change")
    fake.commit_files(world.name, "main", {"src/app.py": "print('one')\n"}, "Step one")
    last = fake.commit_files(world.name, "main", {"docs/x.md": "x\n"}, "Step two")
    fake.close_issue(world.name, number, as_user=BOT)
    pr = fake.pull(world.name, number)
    pr.merged, pr.merge_commit_sha, pr.merged_by, pr.merged_at = True, last, BOT, now_iso()
    ctx = context(world, store)
    decision = gate(fake, world, tmp_path).request(ctx, "revert_pull_request", _ask(number))
    branch = f"factory/revert-pr-{number}"
    assert (
        decision.status,
        _main_file(fake, world.name, branch),
        _tree_of(fake, world.name, branch),
    ) == (
        "applied",
        "print('hi')",
        ["NOTES.md", "README.md", "src/app.py"],
    )


def test_squash_of_two_commits_reverts_only_the_squash(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """A squash merge of a two-commit PR reverts its one commit, not main's commits before it."""
    world = merged_world(fake, merge=False)
    number = _two_commit_pull(fake, world.name)
    fake.commit_files(world.name, "main", {"NOTES.md": "kept\n"}, "Someone else's change")
    world.repo.get_pull(number).merge(merge_method="squash")
    ctx = context(world, store)
    gate(fake, world, tmp_path).request(ctx, "revert_pull_request", _ask(number))
    branch = f"factory/revert-pr-{number}"
    assert _tree_of(fake, world.name, branch) == ["NOTES.md", "README.md", "src/app.py"]
