"""The agent-facing output tools: one per allowed kind, answering the gate's decision."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from github import Auth, Github

from factory.config.outputs_config import Outputs
from factory.forge.output_requests import RunContext
from factory.forge.output_tools import output_tools
from factory.forge.outputs import OutputGate
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub

REPO, BOT_TOKEN = "acme/tools", "t-tools-bot"
OUTPUTS = {"comment": {"max": 1}, "add_labels": {"allowed": ["needs-human"]}}


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[RunContext]:
    """A run that may comment once and add needs-human, on issue #1 of a fresh FakeGitHub."""
    with FakeGitHub() as fake:
        fake.add_user("factory-bot", token=BOT_TOKEN, permission="write")
        fake.create_repo(REPO)
        fake.create_issue(REPO, "Broken", as_user="factory-bot")
        client = Github(
            base_url=fake.api_url,
            auth=Auth.Token(BOT_TOKEN),
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        store = RunStore.open(tmp_path / "factory.db")
        run_id = store.create_run("builder")
        outputs = Outputs.model_validate(OUTPUTS)
        yield RunContext(run_id, "builder", outputs, 1, client.get_repo(REPO), store)
        store.close()


def test_one_tool_per_allowed_kind(ctx: RunContext) -> None:
    """The tools are named output_<kind> for exactly the kinds the automation allows."""
    assert [t.name for t in output_tools(OutputGate(), ctx)] == [
        "output_comment",
        "output_add_labels",
    ]


def test_tool_schema_is_the_request_model(ctx: RunContext) -> None:
    """The comment tool's schema requires body and forbids other fields."""
    schema = output_tools(OutputGate(), ctx)[0].definition()["input_schema"]
    assert (schema["required"], schema["additionalProperties"]) == (["body"], False)


def test_tool_description_says_it_is_a_request(ctx: RunContext) -> None:
    """The description tells the model the daemon checks the request and states the quota."""
    description = output_tools(OutputGate(), ctx)[0].definition()["description"]
    assert ("At most 1 per run." in description, "This is a request" in description) == (
        True,
        True,
    )


def test_performed_output_answers_its_url(ctx: RunContext) -> None:
    """A performed comment answers 'performed comment: <url>' without error."""
    result = output_tools(OutputGate(), ctx)[0].run({"body": "hello"})
    assert (result.is_error, result.content.startswith("performed comment: https://")) == (
        False,
        True,
    )


def test_refusal_answers_the_reason_as_an_error(ctx: RunContext) -> None:
    """A refused label request answers is_error with the reason."""
    result = output_tools(OutputGate(), ctx)[1].run({"labels": ["admin"]})
    assert (result.is_error, result.content) == (
        True,
        "refused: add_labels: label(s) 'admin' are not allowed (allowed: 'needs-human')",
    )
