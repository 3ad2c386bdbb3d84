"""The daemon process dies between GitHub's answer to the incident responder's create_issue
and the local commit; restarted, it files no second issue for the Sentry issue."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from factory.store import RunStore
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_sentry import FakeSentry
from factory.testing.processes import DaemonProcess, fired_points
from factory.testing.sample import REPO, seed_repo
from factory.testing.sample_sentry import (
    ERROR_FRAMES,
    ERROR_TITLE,
    ScriptedResponder,
    with_fake_sentry,
)
from tests.daemon.conftest import ROOT, daemon_env, daemon_settings, wait_for

CRASH_AT = "output_after_github:create_issue"


def test_kill_after_the_issue_reached_github_files_no_second_issue(tmp_path: Path) -> None:
    """One issue after a kill -9 right after GitHub created it and a restart that polls
    Sentry again (and gets the created webhook once more)."""
    automations = Path(shutil.copytree(ROOT / "automations", tmp_path / "automations"))
    harness = Path(shutil.copytree(ROOT / "harness", tmp_path / "harness"))
    crash_log = tmp_path / "crashes.log"
    with (
        FakeGitHub(tmp_path / "github") as github,
        FakeAnthropic() as anthropic,
        FakeSentry() as sentry,
    ):
        anthropic.responder = ScriptedResponder()
        seed_repo(github)
        error = sentry.add_issue(ERROR_TITLE, frames=ERROR_FRAMES)
        settings = daemon_settings(
            github,
            anthropic,
            tmp_path,
            automations=automations,
            harness=harness,
            port=_free_port(),
        )
        env = daemon_env(with_fake_sentry(settings, sentry, poll_interval_s=0.5))
        hook = f"http://127.0.0.1:{settings.port}/webhooks/sentry"
        body = sentry.webhook_body("issue", "created", error)
        first = DaemonProcess(env, ROOT, crash_at=CRASH_AT, crash_log=crash_log, preloaded=True)
        try:
            first.wait_started(may_crash=True)
            wait_for(lambda: first.proc.poll() is not None, what="the armed crash to fire")
        finally:
            first.kill()
        filed_before = _issues(github)
        second = DaemonProcess(env, ROOT, preloaded=True)
        try:
            second.wait_started()
            assert sentry.deliver(hook, "issue", body).status_code == 202
            wait_for(
                lambda: _responded(settings.db_path),
                timeout_s=90,
                what="the restarted daemon to finish the responder run",
            )
        finally:
            second.stop()
        assert (fired_points(crash_log), filed_before, _issues(github)) == (
            [CRASH_AT],
            [error],
            [error],
        )


def _issues(github: FakeGitHub) -> list[str]:
    """The Sentry ids the bot's issues link, one entry per issue, sorted."""
    found = []
    for issue in github.repo(REPO).issues.values():
        body = issue.body or ""
        if issue.user == "factory-bot" and "sentry.io/issues/" in body:
            found.append(body.split("sentry.io/issues/")[1].split("/")[0])
    return sorted(found)


def _responded(db: Path) -> bool:
    with RunStore.open(db, readonly=True) as store:
        runs = store.list_runs(automation="incident-responder", limit=20)
    return any(r.status == "succeeded" for r in runs) and all(r.finished for r in runs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
