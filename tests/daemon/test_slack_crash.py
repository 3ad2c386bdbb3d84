"""The daemon process dies between Slack's answer to chat.postMessage and the local commit;
restarted, it posts no second reply and files no second issue."""

from __future__ import annotations

import shutil
from pathlib import Path

from factory.store import RunStore
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_slack import FakeSlack
from factory.testing.processes import DaemonProcess, fired_points
from factory.testing.sample import REPO, seed_repo
from factory.testing.sample_slack import (
    ScriptedIntake,
    seed_slack,
    with_fake_slack,
    with_slack_policy,
)
from tests.daemon.conftest import ROOT, daemon_env, daemon_settings, wait_for

CRASH_AT = "output_after_github:slack_reply"


def test_kill_after_the_reply_reached_slack_makes_no_second_reply(tmp_path: Path) -> None:
    """One reply and one issue after a kill -9 right after chat.postMessage and a restart."""
    automations = Path(shutil.copytree(ROOT / "automations", tmp_path / "automations"))
    harness = Path(shutil.copytree(ROOT / "harness", tmp_path / "harness"))
    policy = harness / "policy.yaml"
    policy.write_text(with_slack_policy(policy.read_text()))
    crash_log = tmp_path / "crashes.log"
    with (
        FakeGitHub(tmp_path / "github") as github,
        FakeAnthropic() as anthropic,
        FakeSlack() as slack,
    ):
        anthropic.responder = ScriptedIntake()
        seed_repo(github)
        people = seed_slack(slack)
        settings = daemon_settings(
            github,
            anthropic,
            tmp_path,
            automations=automations,
            harness=harness,
            poll_interval_s=0.5,  # no webhook relay: the restarted daemon polls GitHub
        )
        env = daemon_env(with_fake_slack(settings, slack))
        first = DaemonProcess(env, ROOT, crash_at=CRASH_AT, crash_log=crash_log)
        try:
            first.wait_started()
            assert slack.wait_connected(timeout=30)
            report = slack.mention(people.maintainer, people.channel, "add() subtracts")
            ts = str(report["event"]["ts"])
            slack.deliver_socket(report)
            wait_for(lambda: first.proc.poll() is not None, what="the armed crash to fire")
        finally:
            first.kill()
        replied_before = [m for m in slack.thread(people.channel, ts) if m.get("bot_id")]
        second = DaemonProcess(env, ROOT)
        try:
            second.wait_started()
            wait_for(
                lambda: _intake_finished(settings.db_path),
                timeout_s=90,
                what="the restarted daemon to finish the intake run",
            )
        finally:
            second.stop()
        replies = [m for m in slack.thread(people.channel, ts) if m.get("bot_id")]
        issues = [i for i in github.repo(REPO).issues.values() if not i.is_pr]
        assert (fired_points(crash_log), len(replied_before), len(replies), len(issues)) == (
            [CRASH_AT],
            1,
            1,
            1,
        )


def _intake_finished(db: Path) -> bool:
    with RunStore.open(db, readonly=True) as store:
        runs = store.list_runs(automation="slack-intake", limit=10)
    return bool(runs) and any(r.status == "succeeded" for r in runs)
