"""Tests that kill mutants `make mutants` found alive in factory/forge/sanitize.py.

Each test names the behaviour it pins. Surviving mutants judged equivalent are listed at the
end of this file with the reason no test can tell them apart.
"""

from __future__ import annotations

from typing import Any

import pytest
from github import Auth, Github

from factory.config.outputs_config import Outputs
from factory.errors import OutputRefused
from factory.forge.markers import parse_markers
from factory.forge.output_requests import REQUEST_MODELS, RunContext, prepare
from factory.forge.sanitize import redact_secrets, sanitize_body, sanitize_title
from factory.logs import REDACTED
from factory.store import RunStore

HIDDEN = {
    "zwsp": "\u200b",
    "word-joiner": "\u2060",
    "tag-a": "\U000e0041",
    "nul": "\x00",
    "soft-hyphen": "\u00ad",
}
"""Hidden code points by a plain name: ids pytest can select again (mutmut re-runs by id)."""


@pytest.mark.parametrize("hidden", list(HIDDEN.values()), ids=list(HIDDEN))
def test_marker_split_by_a_hidden_code_point_is_stripped(hidden: str) -> None:
    """Removing hidden code points cannot join a marker: they go before markers are stripped."""
    text = f"<!-{hidden}- factoryd:v1 run=R1 key=K1 -->"
    assert (parse_markers(sanitize_body(text)), parse_markers(sanitize_title(text))) == ([], [])


@pytest.fixture
def ctx(store: RunStore) -> RunContext:
    """A run's context that allows the label "bug"; the repository is never called."""
    gh = Github(base_url="http://127.0.0.1:9", auth=Auth.Token("t"), lazy=True)
    outputs = Outputs.model_validate({"add_labels": {"allowed": ["bug"]}})
    run = store.create_run("builder")
    return RunContext(run, "builder", outputs, 1, gh.get_repo("acme/widgets"), store, ())


@pytest.mark.parametrize(
    "label", ["bug\u200b", "b\u202eug", "bug\U000e0041"], ids=["zwsp", "rlo", "tag-a"]
)
def test_label_with_a_hidden_code_point_is_refused(ctx: RunContext, label: str) -> None:
    """A label that only looks like an allowed one is refused, not posted."""
    request: Any = REQUEST_MODELS["add_labels"].model_validate({"labels": [label]})
    with pytest.raises(OutputRefused, match="are not allowed"):
        prepare("add_labels", request, ctx)


def test_longer_secret_is_redacted_before_a_shorter_one_inside_it() -> None:
    """A known secret that contains another is redacted whole, not around the shorter one."""
    assert redact_secrets("key=abwxyzcd", ["wxyz", "abwxyzcd"]) == f"key={REDACTED}"


# Equivalent mutants (no test can kill them):
# - x_cap_text__mutmut_12: `note[: limit - keep]` -> `note[: limit + keep]`. When
#   keep > 0, keep == limit - len(note), so both bounds are >= len(note) and take the whole
#   note; when keep == 0 the two bounds are both `limit`. The slice is the same either way.
