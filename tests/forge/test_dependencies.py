"""Parsing "Depends on #N" / "Blocked by #N" from an issue body, and finding cycles."""

from __future__ import annotations

import pytest

from factory.forge.dependencies import MAX_DEPENDENCIES, find_cycle, parse_dependencies


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Depends on #3", (3,)),
        ("depends ON #3", (3,)),
        ("Blocked by #12.", (12,)),
        ("Depends on: #3", (3,)),
        ("Depends on #3, #4 and #5", (3, 4, 5)),
        ("Depends on #3 & #4", (3, 4)),
        ("- [ ] Depends on #7\n- [x] Blocked by #8", (7, 8)),
        ("Tasks:\n- [ ] #9 write the parser\n- [x] #10", (9, 10)),
        ("Depends on #3\nBlocked by #3", (3,)),
        ("Fixes #3", ()),
        ("Depends on acme/other#3", ()),
        ("See #3; it depends on nothing", ()),
        ("- #4 is a plain list item", ()),
        ("", ()),
    ],
    ids=[
        "plain",
        "any-case",
        "blocked-by",
        "colon",
        "list",
        "ampersand",
        "in-task-list",
        "task-list-refs",
        "once",
        "closing-keyword-is-not-a-dependency",
        "other-repository",
        "mention-only",
        "plain-list-item",
        "empty",
    ],
)
def test_references_that_count(body: str, expected: tuple[int, ...]) -> None:
    """Each phrase form gives exactly the numbers it names, in order, once."""
    assert parse_dependencies(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "```\nDepends on #3\n```",
        "~~~text\nBlocked by #3\n~~~",
        "> Depends on #3",
        "  > quoted: Blocked by #3",
        "Write `Depends on #3` to make it wait",
        "<!-- Depends on #3 -->",
        "<!--\nDepends on #3\n-->",
    ],
    ids=["fence", "tilde-fence", "quote", "indented-quote", "inline-code", "comment", "comment-ml"],
)
def test_adversarial_text_does_not_count(body: str) -> None:
    """References in code, quotes or HTML comments are not dependencies."""
    assert parse_dependencies(body) == ()


def test_text_after_a_closed_fence_counts_again() -> None:
    """A fence ends at its closing line; a dependency after it counts."""
    assert parse_dependencies("```\nDepends on #3\n```\nDepends on #4") == (4,)


def test_the_issue_itself_is_not_a_dependency() -> None:
    """An issue naming itself does not wait for itself."""
    assert parse_dependencies("Depends on #5, #6", own=5) == (6,)


def test_references_are_capped() -> None:
    """A body naming hundreds of issues gives at most MAX_DEPENDENCIES."""
    body = "Depends on " + ", ".join(f"#{n}" for n in range(1, 300))
    assert len(parse_dependencies(body)) == MAX_DEPENDENCIES


def test_two_issue_cycle_is_found() -> None:
    """A depends on B depends on A: the path from A back to A."""
    graph = {1: (2,), 2: (1,)}
    assert find_cycle(1, graph[1], lambda n: graph.get(n, ())) == (1, 2, 1)


def test_longer_cycle_is_found() -> None:
    """A → B → C → A is found as that path."""
    graph = {1: (2,), 2: (3,), 3: (1,)}
    assert find_cycle(1, graph[1], lambda n: graph.get(n, ())) == (1, 2, 3, 1)


def test_a_cycle_not_through_the_issue_is_not_its_cycle() -> None:
    """A → B ⇄ C: A waits, but is not itself in a cycle."""
    graph = {1: (2,), 2: (3,), 3: (2,)}
    assert find_cycle(1, graph[1], lambda n: graph.get(n, ())) is None


def test_a_chain_is_no_cycle() -> None:
    """A → B → C with C depending on nothing is no cycle."""
    graph = {1: (2,), 2: (3,)}
    assert find_cycle(1, graph[1], lambda n: graph.get(n, ())) is None
