"""``factoryd demo``: the whole factory offline — FakeGitHub, FakeSlack, FakeSentry, a
scripted model, the real daemon.

The daemon is the one ``factoryd start`` runs, unchanged, pointed by its settings at
FakeGitHub (a sample repository with two bugs), at FakeSlack (a #bugs channel, in Socket
Mode), at FakeSentry (webhooks of an internal integration) and at FakeAnthropic playing a
scripted intake, incident responder and bug fixer that really edit the sample code and run
its tests in the sandbox. The maintainer reports the first bug by tagging the bot in Slack: the
intake files the issue and answers in the thread with its link, the bug fixer commits a test
that fails, then the fix, and opens a pull request, and the daemon tells the thread. An
outsider's ready label on another issue is skipped by the trust gate. Then production hits
the second bug: Sentry's error becomes an issue, its fix is merged and resolves the Sentry
issue, and a regression reopens the issue (``factory.commands.demo_sentry``). Without
``serve`` it prints what happened and stops; with it, everything keeps running for a person
to poke at (Slack HTTP mode included).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from factory.commands.demo_sentry import (
    closing_pull,
    merge_as_maintainer,
    run_sentry_path,
    wait_for,
)
from factory.commands.transcript import runs_table
from factory.daemon.process import Daemon
from factory.store import RunStore
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_sentry import FakeSentry
from factory.testing.fake_slack import FakeSlack
from factory.testing.relay import WebhookRelay
from factory.testing.sample import (
    OUTSIDER,
    READY,
    REPO,
    fake_settings,
    outsider_wish,
    seed_repo,
    with_test_command,
)
from factory.testing.sample_sentry import ScriptedResponder, with_fake_sentry
from factory.testing.sample_slack import (
    ScriptedIntake,
    seed_slack,
    with_fake_slack,
    with_slack_policy,
)

DEMO_SECRET = "demo-webhook-secret"  # noqa: S105  (a demo value, printed on purpose)
"""The demo's webhook secret (printed with --serve so a person can sign deliveries)."""


@dataclass(frozen=True)
class DemoResult:
    """What the demo did."""

    pull_requests: list[str]
    runs: str
    db_path: Path
    thread: list[str]
    """The Slack thread the bug was reported in, one line a message."""
    sentry: list[str]
    """What became of the production error, one line a step."""


def run_demo(
    root: Path,
    *,
    serve: bool = False,
    port: int = 8765,
    timeout_s: float = 120.0,
    say: Callable[[str], None] = print,
) -> DemoResult:
    """Run the demo in ``root`` (emptied first); return what it did.

    Raises StartRefused / DaemonAlreadyRunning / OSError as ``Daemon.start`` does, TimeoutError
    when the runs do not finish within ``timeout_s``.
    """
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    harness = Path(shutil.copytree(Path("harness"), root / "harness"))
    policy = harness / "policy.yaml"
    policy.write_text(with_test_command(with_slack_policy(policy.read_text())))
    with (
        FakeGitHub(root / "github") as github,
        FakeAnthropic() as anthropic,
        FakeSlack() as slack,
        FakeSentry() as sentry,
    ):
        intake = ScriptedIntake()
        responder = ScriptedResponder()
        anthropic.responder = lambda body: (
            responder(body) if "incident responder" in str(body.get("system")) else intake(body)
        )
        seed_repo(github)
        wish = outsider_wish(github)
        people = seed_slack(slack)
        settings = fake_settings(
            github,
            anthropic,
            data_dir=root / "data",
            webhook_secret=DEMO_SECRET,
            harness_dir=harness,
            port=port,
        )
        settings = with_fake_slack(settings, slack)
        settings = with_fake_sentry(settings, sentry, polling=False)
        daemon = Daemon(settings)
        daemon.start()
        assert daemon.http is not None
        url = f"http://127.0.0.1:{daemon.http.port}"
        relay = WebhookRelay(github, f"{url}/webhooks/github", DEMO_SECRET).start()
        say(f"factoryd demo: daemon on {url}, FakeGitHub on {github.api_url}")
        say(f"FakeSlack on {slack.api_url} (Socket Mode), FakeSentry on {sentry.api_url}")
        loop = threading.Thread(target=daemon.run_loop, name="daemon-loop", daemon=True)
        loop.start()
        if not slack.wait_connected(timeout=30):
            raise TimeoutError("the daemon did not connect to FakeSlack's Socket Mode")
        say(f"outsider otto labels #{wish} with {READY} …")
        github.add_labels(REPO, wish, READY, as_user=OUTSIDER)
        say(f"maintainer mara tags the bot in #bugs: {REPORT!r} …")
        report = slack.mention(people.maintainer, people.channel, REPORT)
        slack.deliver_socket(report)
        thread_ts = str(report["event"]["ts"])
        try:
            _wait_for_factory(daemon, slack, people.channel, thread_ts, timeout_s)
            _merge_reported_fix(daemon, github, slack, people.channel, thread_ts, say, timeout_s)
            production = run_sentry_path(daemon, github, sentry, url, say, timeout_s)
        finally:
            if not serve:
                daemon.stopping.set()
                daemon.wake.set()
                loop.join(timeout=30)
                relay.stop()
        result = _summary(daemon, github, slack, people.channel, thread_ts, production.lines)
        _report(result, say, url)
        if serve:
            say("")
            say(f"serving: daemon {url}  (viewer {url}/runs, health {url}/healthz)")
            say(f"FakeGitHub API {github.api_url}  repository {REPO}")
            say(f"webhook secret: {DEMO_SECRET}  (sign deliveries to {url}/webhooks/github)")
            say(
                f"slack signing secret: {slack.signing_secret}  "
                f"(sign deliveries to {url}/slack/events)"
            )
            say(
                f"sentry client secret: {sentry.client_secret}  "
                f"(sign deliveries to {url}/webhooks/sentry)"
            )
            say("Ctrl-C stops everything.")
            try:
                while loop.is_alive():
                    loop.join(timeout=0.5)
            except KeyboardInterrupt:
                daemon.stopping.set()
                daemon.wake.set()
                loop.join(timeout=30)
            relay.stop()
        return result


def run_scenario(name: str, root: Path, *, say: Callable[[str], None] = print) -> None:
    """Run demo scenario ``name`` (``full``: ``factory.commands.demo_full``) in ``root``.

    Raises ValueError for an unknown scenario, TimeoutError when a hand-off does not happen.
    """
    if name != "full":
        raise ValueError(f"unknown demo scenario {name!r} (known: default, full)")
    from factory.commands.demo_full import run_full_demo

    run_full_demo(root, say=say)


REPORT = "add() returns the difference: calc.add(2, 3) gives -1, it should be 5"
"""What the maintainer tells the bot in Slack."""


def _wait_for_factory(
    daemon: Daemon, slack: FakeSlack, channel: str, thread_ts: str, timeout_s: float
) -> None:
    """Wait for the intake run, the two build runs (the outsider's skipped builder run, the
    bug fixer's on the reported bug) and the thread's pull request update."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        intake = daemon.store.list_runs(automation="slack-intake", limit=10)
        builds = [
            run
            for name in ("builder", "bug-fixer")
            for run in daemon.store.list_runs(automation=name, limit=100)
        ]
        told = any(
            "pull request for" in str(m.get("text", "")) for m in _bot(slack, channel, thread_ts)
        )
        if (
            intake
            and all(r.finished for r in intake)
            and len(builds) >= 2
            and all(r.finished for r in builds)
            and told
        ):
            return
        time.sleep(0.2)
    raise TimeoutError(f"the demo's runs did not finish within {timeout_s:.0f}s")


def _merge_reported_fix(
    daemon: Daemon,
    github: FakeGitHub,
    slack: FakeSlack,
    channel: str,
    thread_ts: str,
    say: Callable[[str], None],
    timeout_s: float,
) -> None:
    """The maintainer merges the pull request for the Slack report; the thread is told."""
    issue = daemon.store.issue_of_thread(f"{channel}/{thread_ts}")
    pull = closing_pull(github, issue) if issue is not None else None
    if pull is None:
        raise TimeoutError("the reported bug has no pull request to merge")
    say(f"maintainer mara merges #{pull} …")
    merge_as_maintainer(github, pull)
    wait_for(
        lambda: (
            any(
                str(m.get("text", "")).startswith("Merged") for m in _bot(slack, channel, thread_ts)
            )
            or None
        ),
        timeout_s,
        "the thread to be told of the merge",
    )


def _bot(slack: FakeSlack, channel: str, thread_ts: str) -> list[dict[str, object]]:
    return [m for m in slack.thread(channel, thread_ts) if m.get("bot_id")]


def _summary(
    daemon: Daemon,
    github: FakeGitHub,
    slack: FakeSlack,
    channel: str,
    thread_ts: str,
    sentry: list[str],
) -> DemoResult:
    pulls = [
        f"#{p.number} {github.issue(REPO, p.number).title} (branch {p.head_ref})"
        for p in github.repo(REPO).pulls.values()
    ]
    thread = [
        f"{'bot' if m.get('bot_id') else m.get('user')}: {m.get('text')}"
        for m in slack.thread(channel, thread_ts)
    ]
    with RunStore.open(daemon.settings.db_path, readonly=True) as store:
        table = runs_table(store.list_runs(limit=50))
    return DemoResult(pulls, table, daemon.settings.db_path, thread, sentry)


def _report(result: DemoResult, say: Callable[[str], None], url: str) -> None:
    say("")
    say("runs:")
    say(result.runs)
    say("")
    say("pull requests opened:" if result.pull_requests else "no pull request was opened")
    for line in result.pull_requests:
        say(f"  {line}")
    say("")
    say("the Slack thread:")
    for line in result.thread:
        say(f"  {line}")
    say("")
    say("the production error (Sentry):")
    for line in result.sentry:
        say(f"  {line}")
    say("")
    say("look closer:")
    say(f"  factoryd runs --db {result.db_path}")
    say(f"  factoryd show RUN_ID --db {result.db_path}")
    say(f"  factoryd viewer --db {result.db_path}   (or {url} while it serves)")
