"""github_read's check_annotations and job_log against a real FakeGitHub through PyGithub."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from github import Auth

from factory.agent.tools import FunctionTool
from factory.forge.client import Pacing, make_github
from factory.forge.read_checks import LOG_TAIL, clean_log
from factory.forge.read_tool import github_read_tool
from factory.logs import redactor
from factory.testing.fake_github import FakeGitHub

REPO = "acme/widgets"
SECRET = "daemon-secret-value-4242"
LOG = (
    "\x1b[36m2026-01-01T00:00:00Z\x1b[0m Run pytest\n"
    + "collected 3 items\n" * 1000
    + f"token={SECRET}\n"
    + "FAILED tests/test_app.py::test_greets - assert 'hi' == 'hello'\n"
)


@dataclass
class World:
    """The fake, the tool, a failing Actions job with annotations, and another App's run."""

    fake: FakeGitHub
    tool: FunctionTool
    job: int
    other: int


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """A repo whose head has a failing GitHub Actions job (log + annotation) and a fake-ci run."""
    with FakeGitHub() as fake:
        fake.create_repo(REPO, files={"app.py": "print('hi')\n"})
        fake.add_user("acme", token="t-owner", permission="admin")
        fake.add_user("factory-bot", token="t-bot", permission="write")
        head = fake.repo(REPO).git.resolve("refs/heads/main") or ""
        note = {"path": "app.py", "start_line": 1, "annotation_level": "failure"}
        job = fake.add_check_run(
            REPO,
            head,
            "test",
            "failure",
            as_user="acme",
            app="github-actions",
            annotations=[{**note, "title": "test_greets", "message": "assert 'hi' == 'hello'"}],
        )
        fake.set_job_log(REPO, job.id, LOG)
        other = fake.add_check_run(REPO, head, "lint", "failure", as_user="acme", text="E501")
        redactor.add([SECRET])
        pacing = Pacing(seconds_between_writes=0, backoff_factor=0)
        gh = make_github(auth=Auth.Token("t-bot"), base_url=fake.api_url, pacing=pacing)
        yield World(fake, github_read_tool(gh, gh.get_repo(REPO)), job.id, other.id)


def _read(world: World, **tool_input: object) -> str:
    result = world.tool.run({**tool_input})
    return result.content if isinstance(result.content, str) else str(result.content)


def test_annotations_name_file_line_and_message(world: World) -> None:
    """check_annotations lists each annotation as path:line with its message."""
    text = _read(world, action="check_annotations", id=world.job)
    assert ("app.py:1 [failure]" in text, "assert 'hi' == 'hello'" in text) == (True, True)


def test_annotations_are_fenced_as_check_data(world: World) -> None:
    """Annotations come inside a labelled fence: data from the check, not instructions."""
    text = _read(world, action="check_annotations", id=world.job)
    assert "<<< check annotations by app github-actions" in text


def test_job_log_follows_the_redirect_to_the_log(world: World) -> None:
    """job_log follows GitHub's 302 to the download link and shows the log's failure line."""
    text = _read(world, action="job_log", id=world.job)
    assert "FAILED tests/test_app.py::test_greets" in text


def test_job_log_is_scrubbed_of_secrets(world: World) -> None:
    """A secret the daemon knows never comes back in a job log."""
    assert SECRET not in _read(world, action="job_log", id=world.job)


def test_job_log_has_no_ansi_codes(world: World) -> None:
    """Colour codes are removed from the log."""
    assert "\x1b[" not in _read(world, action="job_log", id=world.job)


def test_job_log_keeps_only_its_end(world: World) -> None:
    """A long log is cut to its last characters, with a note of the cut."""
    text = _read(world, action="job_log", id=world.job)
    assert ("earlier characters cut" in text, "Run pytest" in text) == (True, False)


def test_job_log_of_another_apps_check_run_is_an_error(world: World) -> None:
    """A check run that is not a GitHub Actions job has no job log: GitHub answers 404."""
    result = world.tool.run({"action": "job_log", "id": world.other})
    assert (result.is_error, "404" in str(result.content)) == (True, True)


def test_job_log_without_an_id_is_an_input_error(world: World) -> None:
    """job_log needs a positive id."""
    result = world.tool.run({"action": "job_log"})
    assert (result.is_error, "needs a positive integer 'id'" in str(result.content)) == (True, True)


def test_clean_log_cap_keeps_the_tail() -> None:
    """clean_log keeps exactly the last LOG_TAIL characters of a long log."""
    text = "a" * LOG_TAIL + "END"
    assert clean_log(text).endswith("a" * (LOG_TAIL - 3) + "END")


def test_fake_job_log_redirect_is_a_302_with_location(world: World) -> None:
    """FakeGitHub answers the logs endpoint as GitHub does: 302 with a Location header."""
    url = f"{world.fake.api_url}/repos/{REPO}/actions/jobs/{world.job}/logs"
    reply = httpx.get(url, headers={"Authorization": "token t-bot"})
    assert (reply.status_code, "location" in reply.headers) == (302, True)
