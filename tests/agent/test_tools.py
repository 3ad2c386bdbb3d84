"""Tools: bash and editor in the real bwrap sandbox, the registry, the output cap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from factory.agent.editor_tool import EditorTool
from factory.agent.tools import (
    BashTool,
    FunctionTool,
    SandboxContext,
    ToolRegistry,
    ToolResult,
    cap_output,
)
from factory.errors import UnknownTool
from factory.interfaces import Sandbox


@pytest.fixture
def bash(sandbox: Sandbox, workspace: Path) -> BashTool:
    """The bash tool over the test workspace."""
    return BashTool(SandboxContext(sandbox, workspace))


@pytest.fixture
def editor(sandbox: Sandbox, workspace: Path) -> EditorTool:
    """The editor tool over the test workspace."""
    return EditorTool(SandboxContext(sandbox, workspace))


def test_cap_output_keeps_short_text() -> None:
    """Text under the cap comes back unchanged."""
    assert cap_output("abc", limit=10) == "abc"


def test_cap_output_marks_the_cut_and_keeps_head_and_tail() -> None:
    """Long text keeps its head and tail and says how many characters were cut."""
    text = "H" * 500 + "M" * 9000 + "T" * 500
    head, marker, tail = cap_output(text, limit=1000).split("\n")
    assert (head, marker, tail) == ("H" * 400, "[… 9000 characters cut …]", "M" * 100 + "T" * 500)


def test_cap_output_total_size_is_bounded() -> None:
    """The capped text is the limit plus only the marker line."""
    capped = cap_output("x" * 50_000, limit=10_000)
    assert len(capped) == 10_000 + len("\n[… 40000 characters cut …]\n")


def test_bash_reports_output_and_exit_code(bash: BashTool) -> None:
    """A command's stdout and exit code come back, and a failing exit is not a tool error."""
    result = bash.run({"command": "echo hello; exit 3"})
    assert result == ToolResult("hello\n[exit code: 3]", is_error=False)


def test_bash_runs_in_the_workspace(bash: BashTool) -> None:
    """Commands see the workspace files in their working directory."""
    assert bash.run({"command": "cat greet.py | head -1"}).content.startswith("def greet")


def test_bash_reports_stderr(bash: BashTool) -> None:
    """Standard error is labelled in the result."""
    assert "[stderr]\noops" in bash.run({"command": "echo oops >&2"}).content


def test_bash_restart_answers_ok(bash: BashTool) -> None:
    """``restart: true`` is answered without running anything."""
    assert bash.run({"restart": True}).is_error is False


def test_bash_without_command_is_an_error(bash: BashTool) -> None:
    """A call without a command comes back as is_error."""
    assert bash.run({}).is_error is True


def test_bash_caps_long_output(bash: BashTool) -> None:
    """Huge output is capped and the cut is marked."""
    content = bash.run({"command": "head -c 30000 /dev/zero | tr '\\0' x"}).content
    assert ("characters cut" in content, len(content) < 10_100) == (True, True)


def test_editor_create_then_view_numbers_lines(editor: EditorTool, workspace: Path) -> None:
    """A created file is viewed with line numbers."""
    editor.run({"command": "create", "path": "pkg/new.py", "file_text": "a = 1\nb = 2\n"})
    assert editor.run({"command": "view", "path": "pkg/new.py"}).content == (
        "     1\ta = 1\n     2\tb = 2\n     3\t"
    )


def test_editor_create_writes_the_file(editor: EditorTool, workspace: Path) -> None:
    """Create writes into the workspace (seen from the host)."""
    editor.run({"command": "create", "path": "made.txt", "file_text": "x\n"})
    assert (workspace / "made.txt").read_text() == "x\n"


def test_editor_view_range(editor: EditorTool) -> None:
    """view_range shows only the asked lines, numbered from the start line."""
    result = editor.run({"command": "view", "path": "greet.py", "view_range": [2, 2]})
    assert result.content == '     2\t    return "hi " + name'


def test_editor_view_directory_lists_files(editor: EditorTool) -> None:
    """Viewing a directory lists files two levels deep, hidden ones left out."""
    listing = editor.run({"command": "view", "path": "."}).content.splitlines()
    assert listing == ["greet.py", "tests/", "tests/__init__.py", "tests/test_greet.py"]


def test_editor_str_replace_edits_once(editor: EditorTool, workspace: Path) -> None:
    """A unique old_str is replaced."""
    editor.run(
        {"command": "str_replace", "path": "greet.py", "old_str": '"hi "', "new_str": '"hello "'}
    )
    assert '"hello " + name' in (workspace / "greet.py").read_text()


def test_editor_str_replace_without_match_is_an_error(editor: EditorTool) -> None:
    """No match comes back as is_error and says so."""
    result = editor.run({"command": "str_replace", "path": "greet.py", "old_str": "nope"})
    assert (result.is_error, "no match" in result.content) == (True, True)


def test_editor_str_replace_with_two_matches_is_an_error(
    editor: EditorTool, workspace: Path
) -> None:
    """An ambiguous old_str is refused and the file is left alone."""
    (workspace / "two.txt").write_text("x\nx\n")
    result = editor.run({"command": "str_replace", "path": "two.txt", "old_str": "x"})
    assert (result.is_error, (workspace / "two.txt").read_text()) == (True, "x\nx\n")


def test_editor_insert_after_line(editor: EditorTool, workspace: Path) -> None:
    """insert puts the text after insert_line."""
    editor.run({"command": "insert", "path": "greet.py", "insert_line": 0, "insert_text": "# hi"})
    assert (workspace / "greet.py").read_text().splitlines()[0] == "# hi"


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd"], ids=["dotdot", "absolute"])
def test_editor_refuses_paths_outside_the_workspace(editor: EditorTool, path: str) -> None:
    """Paths that leave the workspace are refused as is_error."""
    result = editor.run({"command": "create", "path": path, "file_text": "x"})
    assert (result.is_error, "outside the workspace" in result.content) == (True, True)


def test_editor_refuses_symlink_out_of_the_workspace(
    editor: EditorTool, workspace: Path, tmp_path: Path
) -> None:
    """A symlink in the workspace that points outside it is not followed."""
    os.symlink("/etc", workspace / "etc")
    result = editor.run({"command": "view", "path": "etc/hostname"})
    assert (result.is_error, "outside the workspace" in result.content) == (True, True)


def test_editor_unknown_command_is_an_error(editor: EditorTool) -> None:
    """An unknown command comes back as is_error without touching the sandbox."""
    assert editor.run({"command": "undo_edit", "path": "greet.py"}).is_error is True


def test_editor_missing_file_is_an_error(editor: EditorTool) -> None:
    """Viewing a missing file is is_error."""
    assert editor.run({"command": "view", "path": "missing.py"}).is_error is True


def test_registry_select_returns_tools_in_order(bash: BashTool, editor: EditorTool) -> None:
    """select returns the named tools in the order asked."""
    assert ToolRegistry([bash, editor]).select(["editor", "bash"]) == [editor, bash]


def test_registry_select_unknown_name_raises(bash: BashTool) -> None:
    """An unknown tool name raises UnknownTool naming it."""
    with pytest.raises(UnknownTool, match="'github_read'"):
        ToolRegistry([bash]).select(["bash", "github_read"])


def test_registry_refuses_duplicate_names(bash: BashTool) -> None:
    """Registering a name twice is a ValueError."""
    with pytest.raises(ValueError, match="already registered"):
        ToolRegistry([bash, bash])


def test_function_tool_definition_is_plain_json_schema() -> None:
    """A daemon-side tool's definition is name, description and input_schema."""
    tool = FunctionTool("github_read", "Read", {"type": "object"}, lambda _: ToolResult("ok"))
    assert tool.definition() == {
        "name": "github_read",
        "description": "Read",
        "input_schema": {"type": "object"},
    }
