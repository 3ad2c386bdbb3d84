"""A store built the way the demo's daemon fills it, through the store API (no daemon run).

A maintainer tags the bot in a Slack thread (the message carries an injection payload); the
slack-intake run files issue #1 (``create_issue``, linked from the thread), labels it
``factory:ready`` and replies in the thread; the ready label's event starts the builder,
whose run (a tool result carrying an injection payload) opens pull request #2; the PR's
opened event starts the pr-reviewer and the daemon links issue → PR and tells the thread;
then the PR is merged. A second builder run, under an edited prompt, fails. A Sentry issue
(its title an injection payload) starts a run on its own subject.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from factory.events import Event, Subject
from factory.interfaces import Usage
from factory.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
AUTOMATIONS = ROOT / "automations"
HARNESS = ROOT / "harness"
THREAD = "C0BUGS/1712345678.000100"
REPO_URL = "https://github.com/acme/sample"
SLACK_INJECTION = "<script>alert('slack')</script>"
SENTRY_INJECTION = '<img src=x onerror=alert("sentry")>'
TOOL_INJECTION = "<svg onload=alert('tool')>"
PROMPT_LINE = "You are the feature builder of this software factory. Your job: turn one approved"
EDITED_LINE = (
    "You are the careful feature builder of this software factory. Your job: turn one approved"
)
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
"""Three hours ago: the world falls inside the map's 24-hour window."""


@dataclass(frozen=True)
class World:
    """Ids of what the world holds."""

    intake: str
    builder: str
    reviewer: str
    builder_v2: str
    sentry_run: str
    issue: int
    pull: int
    sentry_id: str


def at(minutes: float) -> datetime:
    """Return START plus ``minutes``."""
    return START + timedelta(minutes=minutes)


def _event(store: RunStore, minutes: float, **kw: object) -> int:
    event_id, _ = store.add_event(Event(received_at=at(minutes), **kw))  # type: ignore[arg-type]
    return event_id


def _run(
    store: RunStore,
    automation: str,
    minutes: float,
    *,
    event_id: int,
    subject: str,
    yaml_text: str | None = None,
) -> str:
    text = yaml_text if yaml_text is not None else (AUTOMATIONS / f"{automation}.yaml").read_text()
    digest = hashlib.sha256(text.encode()).hexdigest()
    run_id = store.create_run(
        automation, event_id=event_id, subject_key=subject, content_hash=digest,
        prompt_snapshot=text, now=at(minutes),
    )  # fmt: skip
    store.start_run(run_id, "worker-1", now=at(minutes + 0.1))
    return run_id


def converse(store: RunStore, run_id: str, minutes: float, words: str, tool: str) -> None:
    store.add_step(run_id, "model_request", {"messages": []}, now=at(minutes))
    store.add_step(
        run_id, "model_response", {"response": {"content": [{"type": "text", "text": words}]}},
        text=words, input_tokens=900, output_tokens=120, cache_read_tokens=600,
        cost_usd=0.02, now=at(minutes + 0.1),
    )  # fmt: skip
    store.add_step(run_id, "tool_call", {"id": "tu_1", "name": "bash"}, text="bash: make test")
    store.add_step(
        run_id, "tool_result",
        {"tool_use_id": "tu_1", "name": "bash", "content": tool, "is_error": False}, text=tool,
    )  # fmt: skip
    store.add_usage(run_id, Usage(900, 120, cache_read_input_tokens=600), 0.02)


def _output(
    store: RunStore, run_id: str, minutes: float, kind: str, payload: dict[str, object],
    result: dict[str, object], url: str, target: int | None = None,
) -> int:  # fmt: skip
    key = f"{run_id}:{kind}:{target}:{len(payload)}"
    output_id, _ = store.record_output_intent(
        run_id, kind, key, {"target": target, "payload": payload}, now=at(minutes)
    )
    store.mark_output(output_id, "applied", result, url, now=at(minutes + 0.05))
    return output_id


def _intake(store: RunStore) -> tuple[str, int]:
    slack = _event(
        store, 0, source="slack", kind="app_mention", dedup_key="slack:Ev01",
        subject=Subject(kind="slack", thread=THREAD), actor="U0MAINT", trust="maintainers",
        payload={"channel": "C0BUGS", "ts": "1712345678.000100", "thread_ts": "1712345678.000100",
                 "text": f"<@UBOT> mean() crashes on an empty list {SLACK_INJECTION}"},
    )  # fmt: skip
    intake = _run(store, "slack-intake", 0.1, event_id=slack, subject=f"slack:{THREAD}")
    converse(store, intake, 0.3, "Filing the issue.", "grep -n mean sample/stats.py")
    issue_url = f"{REPO_URL}/issues/1"
    made = _output(
        store, intake, 1, "create_issue", {"title": "mean() divides by zero", "body": "..."},
        {"number": 1}, issue_url,
    )  # fmt: skip
    store.add_link(f"slack:{THREAD}", "issue:1", run_id=intake, output_id=made, now=at(1.05))
    _output(
        store, intake, 1.2, "add_labels", {"labels": ["bug", "factory:ready"]},
        {"labels": ["bug", "factory:ready"]}, issue_url, target=1,
    )  # fmt: skip
    _output(
        store, intake, 1.4, "slack_reply", {"text": f"Filed {issue_url}"}, {"ts": "1.2"},
        "https://slack.example/archives/C0BUGS/p1", target=None,
    )  # fmt: skip
    store.finish_run(intake, "succeeded", stop_reason="model ended its turn", now=at(1.5))
    return intake, slack


def _builder(store: RunStore, intake: str) -> str:
    # What factory.daemon.vouch stores when the intake's approval label lands: the
    # maintainer who asked in Slack is the actor, so the builder's trigger fires on it.
    labeled = _event(
        store, 2, source="github", kind="issues.labeled", dedup_key=f"vouch:{intake}:ready",
        subject=Subject(kind="issue", number=1), actor="U0MAINT", trust="maintainers",
        payload={"label": {"name": "factory:ready"},
                 "vouched": {"run_id": intake, "output": "k", "source": "slack",
                             "actor": "U0MAINT"}},
    )  # fmt: skip
    builder = _run(store, "builder", 2.1, event_id=labeled, subject="issue:1")
    converse(store, builder, 2.3, "Fixing mean().", f"2 passed {TOOL_INJECTION}")
    _output(
        store, builder, 5, "open_pull_request", {"title": "Fix mean() of an empty list"},
        {"number": 2, "branch": "factory/issue-1", "risk_tier": "low"}, f"{REPO_URL}/pull/2",
    )  # fmt: skip
    store.finish_run(builder, "succeeded", stop_reason="model ended its turn", now=at(5.5))
    return builder


def _reviewer_and_merge(store: RunStore) -> str:
    pull = Subject(kind="pull_request", number=2, title="Fix mean() of an empty list",
                   url=f"{REPO_URL}/pull/2")  # fmt: skip
    opened = _event(
        store, 6, source="github", kind="pull_request.opened", dedup_key="gh-pr-opened-2",
        subject=pull, actor="factory-bot", trust="maintainers", by_factory=True,
        payload={"pull_request": {"number": 2, "body": "Closes #1", "labels": []}},
    )  # fmt: skip
    store.add_link("issue:1", "pull_request:2", event_id=opened, now=at(6.05))
    followup, _ = store.record_followup_intent(
        f"slack_update:{THREAD}:pr_opened:pull_request:2", "slack_update", THREAD,
        "pull_request:2", {"text": "A pull request for #1 is open"}, event_id=opened,
        now=at(6.1),
    )  # fmt: skip
    store.mark_followup(followup, "applied", url="https://slack.example/p2", now=at(6.2))
    reviewer = _run(store, "pr-reviewer", 6.3, event_id=opened, subject="pull_request:2")
    converse(store, reviewer, 6.5, "Looks right.", "3 passed")
    _output(
        store, reviewer, 8, "review_pull_request", {"body": "Looks right", "event": "COMMENT"},
        {"review_id": 7}, f"{REPO_URL}/pull/2#review-7", target=2,
    )  # fmt: skip
    store.finish_run(reviewer, "succeeded", stop_reason="model ended its turn", now=at(8.5))
    _event(
        store, 30, source="github", kind="pull_request.closed", dedup_key="gh-pr-closed-2",
        subject=pull, actor="maintainer", trust="maintainers",
        payload={"pull_request": {"number": 2, "merged": True, "state": "closed"}},
    )  # fmt: skip
    return reviewer


def _second_version(store: RunStore) -> str:
    text = (AUTOMATIONS / "builder.yaml").read_text().replace(PROMPT_LINE, EDITED_LINE)
    assert text != (AUTOMATIONS / "builder.yaml").read_text()
    labeled = _event(
        store, 40, source="github", kind="issues.labeled", dedup_key="gh-labeled-3",
        subject=Subject(kind="issue", number=3, title="Add median()"), actor="maintainer",
        trust="maintainers", payload={"label": {"name": "factory:ready"}},
    )  # fmt: skip
    run = _run(store, "builder", 40.1, event_id=labeled, subject="issue:3", yaml_text=text)
    converse(store, run, 40.3, "Adding median().", "1 failed")
    store.add_step(run, "tool_call", {"id": "tu_2", "name": "editor"}, text="editor: stats.py")
    store.add_step(
        run, "tool_result", {"tool_use_id": "tu_2", "name": "editor", "is_error": True},
        text="no such file",
    )  # fmt: skip
    _output(
        store, run, 42, "add_labels", {"labels": ["factory:blocked"]},
        {"labels": ["factory:blocked", "factory:ready"]}, f"{REPO_URL}/issues/3", target=3,
    )  # fmt: skip
    store.finish_run(run, "failed", stop_reason="tests fail", now=at(43))
    return run


def _sentry(store: RunStore) -> tuple[str, str]:
    sentry_id = "4711"
    title = f"ZeroDivisionError in mean {SENTRY_INJECTION}"
    created = _event(
        store, 50, source="sentry", kind="sentry.issue.created", dedup_key="sentry:created:4711",
        subject=Subject(kind="sentry", sentry_id=sentry_id, title=title,
                        url="https://sentry.example/issues/4711/"),
        actor="sentry", trust="data",
        payload={"issue_id": sentry_id, "title": title,
                 "permalink": "https://sentry.example/issues/4711/"},
    )  # fmt: skip
    yaml_text = (AUTOMATIONS / "triage.yaml").read_text()
    run = _run(
        store, "triage", 50.1, event_id=created, subject=f"sentry:{sentry_id}", yaml_text=yaml_text
    )
    store.finish_run(run, "succeeded", stop_reason="model ended its turn", now=at(51))
    return run, sentry_id


def build_world(store: RunStore) -> World:
    """Fill ``store`` with the demo's story and a few more runs; return their ids."""
    intake, _ = _intake(store)
    builder = _builder(store, intake)
    reviewer = _reviewer_and_merge(store)
    builder_v2 = _second_version(store)
    sentry_run, sentry_id = _sentry(store)
    return World(intake, builder, reviewer, builder_v2, sentry_run, 1, 2, sentry_id)
