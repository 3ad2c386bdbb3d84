"""YAML loading that keeps positions, and pydantic validation whose errors point into the file.

Design: a file is parsed twice with ruamel.yaml (round-trip, YAML 1.2, so ``on:`` stays the
string ``"on"``). The first pass composes the node graph only to find *every* duplicate key
(ruamel itself stops at the first); the second builds the round-trip data, whose ``.lc``
attributes hold the 0-based line/column of each key and value. Validation runs on a plain
copy of the data; each pydantic error ``loc`` is walked back through the round-trip data to
the offending key (unknown or missing keys) or value (everything else). Every position that
leaves this module is 1-based and wrapped in a ``ConfigIssue``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from factory.errors import ConfigIssue

M = TypeVar("M", bound=BaseModel)
Loc = Sequence[int | str]


@dataclass(frozen=True)
class YamlDoc:
    """One parsed YAML file: its text, its plain data, and the round-trip tree for positions."""

    file: str
    """The file name as the caller gave it; used verbatim in issues."""
    text: str
    """The file's text."""
    data: Any
    """The document as plain dicts, lists and scalars."""
    tree: Any
    """The ruamel round-trip document (``CommentedMap``/``CommentedSeq``) carrying positions."""

    def position(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """Return the 1-based (line, col) of the value at ``loc`` (or of its key if ``key``).

        The walk stops at the deepest part of ``loc`` that exists; an empty or unmatched
        ``loc`` points at the start of the document. Never raises.
        """
        container: Any = None
        step: int | str | None = None
        node = self.tree
        for part in loc:
            if not _has_child(node, part):
                break
            container, step, node = node, part, node[part]
        if container is None or step is None:
            return _root_position(self.tree)
        lc: Any = container.lc if hasattr(container, "lc") else None
        if lc is None:
            return _root_position(self.tree)
        try:
            if isinstance(container, list):
                line, col = lc.item(step)
            elif key:
                line, col = lc.key(step)
            else:
                line, col = lc.value(step)
        except (AttributeError, KeyError, TypeError):
            return _root_position(self.tree)
        return int(line) + 1, int(col) + 1

    def issue(self, loc: Loc, message: str, *, key: bool = False) -> ConfigIssue:
        """Return a ConfigIssue for ``message`` at the value (or key) found at ``loc``."""
        line, col = self.position(loc, key=key)
        return ConfigIssue(self.file, line, col, message)


def _known_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """Return the field names of the model found by following ``loc`` from ``model``."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            current = field.annotation if field is not None else None
        elif get_origin(current) in (list, dict):
            current = get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """Strip ``X | None`` down to ``X``."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (UnionType, Union) and len(args) == 1:
        return args[0]
    return annotation


def _has_child(node: Any, part: int | str) -> bool:
    """Return whether ``node[part]`` exists (mapping key or in-range sequence index)."""
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _root_position(tree: Any) -> tuple[int, int]:
    """Return the 1-based position where the document's top node starts (1:1 if unknown)."""
    lc = getattr(tree, "lc", None)
    if lc is None or lc.line is None:
        return 1, 1
    return int(lc.line) + 1, int(lc.col) + 1


def load_yaml(path: Path, file: str | None = None) -> tuple[YamlDoc | None, list[ConfigIssue]]:
    """Parse the YAML file at ``path``; ``file`` is the name used in issues (default: path).

    Returns the document (None when it cannot be used at all) and the issues found:
    syntax errors, tab indentation, every duplicate key, an unreadable or empty file.
    Never raises for a bad file.
    """
    name = file if file is not None else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [ConfigIssue(name, 1, 1, f"cannot read file: {exc}")]
    return parse_yaml(text, name)


def parse_yaml(text: str, file: str) -> tuple[YamlDoc | None, list[ConfigIssue]]:
    """Parse YAML ``text`` named ``file``; same result and issues as ``load_yaml``."""
    try:
        node = YAML().compose(text)
    except MarkedYAMLError as exc:
        return None, _syntax_issues(file, text, exc)
    issues = _duplicate_keys(file, node) if node is not None else []
    loader = YAML()
    loader.allow_duplicate_keys = True
    try:
        tree = loader.load(text)
    except MarkedYAMLError as exc:  # constructor errors: a merge key on a scalar, a bad tag
        return None, _syntax_issues(file, text, exc)
    except (ValueError, TypeError, KeyError):  # an explicit tag ruamel cannot apply
        return None, [_tag_issue(file, node)]
    if tree is None:
        return None, [ConfigIssue(file, 1, 1, "file is empty")]
    return YamlDoc(file=file, text=text, data=to_plain(tree), tree=tree), issues


_CONSTRUCTS = {
    "while scanning a quoted scalar": "a quoted scalar",
    "while parsing a flow sequence": "a flow sequence '['",
    "while parsing a flow mapping": "a flow mapping '{'",
    "while parsing a block mapping": "a block mapping",
    "while parsing a block collection": "a block sequence",
    "while scanning a simple key": "a key",
    "expected a single document in the stream": "the first document",
}
"""ruamel's context phrases, as the construct that began at the context mark."""


def _construct(context: str, problem: str) -> str:
    """Return what began at the context mark, e.g. "an unterminated quoted scalar"."""
    if context == "while scanning a quoted scalar" and "end of stream" in problem:
        return "an unterminated quoted scalar"
    if context in _CONSTRUCTS:
        return _CONSTRUCTS[context]
    for prefix in ("while scanning ", "while parsing ", "while constructing "):
        if context.startswith(prefix):
            return context.removeprefix(prefix)
    return context


def _syntax_issues(file: str, text: str, exc: MarkedYAMLError) -> list[ConfigIssue]:
    """Turn a ruamel error into ConfigIssues: where the parser stopped and where it began.

    When ruamel marks both where the broken construct began (``context_mark``) and where
    it gave up (``problem_mark``), two issues come back, each naming the other position,
    so an unterminated quote opened on line 1 and detected on line 4 points at line 1 too.
    """
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = exc.problem or exc.context or "invalid YAML"
    if problem == "but found another document":
        problem = "found a second document (a file holds only one)"
    lines = text.splitlines()
    if "'\\t'" in problem or (0 < line <= len(lines) and "\t" in lines[line - 1][:col]):
        return [ConfigIssue(file, line, col, "tab character used for indentation (use spaces)")]
    if "duplicate key" in problem:  # pragma: no cover - duplicates are collected separately
        return [ConfigIssue(file, line, col, problem)]
    stopped = ConfigIssue(file, line, col, f"YAML syntax error: {problem}")
    begun = exc.context_mark
    if exc.context is None or begun is None or exc.problem_mark is None:
        return [stopped]
    start_line, start_col = begun.line + 1, begun.column + 1
    if (start_line, start_col) == (line, col):
        return [stopped]
    what = _construct(exc.context, problem)
    return [
        ConfigIssue(
            file,
            start_line,
            start_col,
            f"YAML syntax error: {what} starts here; the parser stopped at {line}:{col}: {problem}",
        ),
        ConfigIssue(
            file,
            line,
            col,
            f"YAML syntax error: {problem}; {what} starts at {start_line}:{start_col}",
        ),
    ]


def _tag_issue(file: str, root: Node | None) -> ConfigIssue:
    """Return an issue at the first explicitly tagged scalar ruamel cannot construct."""
    constructor = YAML().constructor
    stack: list[Node] = [root] if root is not None else []
    while stack:
        node = stack.pop(0)
        if isinstance(node, ScalarNode):
            try:
                constructor.construct_object(node, deep=True)
            except (ValueError, TypeError, KeyError):
                tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
                mark = node.start_mark
                message = f"cannot read {node.value!r} as {tag}"
                return ConfigIssue(file, mark.line + 1, mark.column + 1, message)
        elif isinstance(node, MappingNode):
            stack[:0] = [part for pair in node.value for part in pair]
        elif isinstance(node, SequenceNode):
            stack[:0] = list(node.value)
    return ConfigIssue(file, 1, 1, "YAML syntax error: a tagged value cannot be read")


def _duplicate_keys(file: str, root: Node) -> list[ConfigIssue]:
    """Return an issue at every key that repeats an earlier key of the same mapping."""
    issues: list[ConfigIssue] = []
    stack: list[Node] = [root]
    seen_nodes: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:  # anchors/aliases may share nodes
            continue
        seen_nodes.add(id(node))
        if isinstance(node, MappingNode):
            keys: dict[str, str] = {}
            for key_node, value_node in node.value:
                key_value = key_node.value if isinstance(key_node.value, str) else None
                if key_value is not None and key_value in keys:
                    mark = key_node.start_mark
                    issues.append(
                        ConfigIssue(
                            file,
                            mark.line + 1,
                            mark.column + 1,
                            f"duplicate key {key_value!r} (first at {keys[key_value]})",
                        )
                    )
                elif key_value is not None:
                    first = key_node.start_mark
                    keys[key_value] = f"{first.line + 1}:{first.column + 1}"
                stack.append(value_node)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return issues


def to_plain(value: Any) -> Any:
    """Return ``value`` with ruamel containers and scalar subclasses turned into plain Python."""
    if isinstance(value, dict):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def validate_model(
    doc: YamlDoc, model: type[M], *, context: dict[str, Any] | None = None
) -> tuple[M | None, list[ConfigIssue]]:
    """Validate ``doc.data`` into ``model``; map every pydantic error to a file position.

    Returns the model (None if invalid) and all issues. Unknown and missing keys point at a
    key; other errors at the offending value. Never raises ValidationError.
    """
    try:
        return model.model_validate(doc.data, context=context), []
    except ValidationError as exc:
        return None, [_issue_for(doc, err, model) for err in exc.errors(include_url=False)]


def _issue_for(doc: YamlDoc, err: Any, model: type[BaseModel]) -> ConfigIssue:
    """Turn one pydantic error dict into a ConfigIssue with a readable message."""
    loc: tuple[int | str, ...] = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        hint = f" (known: {', '.join(known)})" if known else ""
        return doc.issue(loc, f"unknown key {loc[-1]!r}{hint}", key=True)
    if kind == "missing":
        return doc.issue(loc[:-1], f"missing required key {loc[-1]!r}", key=True)
    message = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    where = ".".join(str(p) for p in loc)
    return doc.issue(loc, f"{where}: {message}" if where else message)
