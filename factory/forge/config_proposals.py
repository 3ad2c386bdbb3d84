"""``propose_config_change``: the factory proposes a change to its own config, a person decides.

The request names files of the factory config repository (``Settings.config_root``) — only
automation YAML (``automations/NAME.yaml``) and harness documents (``harness/…``, never
``harness/policy.yaml``: trust, protected paths and risk tiers are not the factory's to
propose) — with their full new text, and the runs it rests on (``evidence``: run ids that
must be in the store). ``prepare_config_change`` checks it and writes the description: the
agent's words, then an evidence table the daemon fills from the store (automation, status,
stop reason, turns, cost of each run), never from the model.
The performer is ``factory.forge.config_performer``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from factory.config.outputs_config import ProposeConfigChangeOutput
from factory.errors import OutputRefused, RunNotFound
from factory.forge.sanitize import cap_text, redact_secrets, sanitize_body, sanitize_title

if TYPE_CHECKING:
    from factory.forge.output_requests import RunContext

KIND = "propose_config_change"
BRANCH_PREFIX = "factory/config-"
"""Branches of config proposals start with this (the merge gate refuses them too)."""
PROPOSAL_MARK = "<!-- factoryd:config-proposal -->"
"""A visible-to-machines line in every proposal's description (the merge gate refuses it)."""
MAX_FILE_CHARS = 100_000
MAX_EVIDENCE = 50
PROPOSALS_DIR = "config-proposals"
_AUTOMATION_FILE = re.compile(r"^automations/[a-z0-9][a-z0-9_-]*\.ya?ml$")


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class FileChange(_Request):
    """One file of the factory config repository, with its full new text."""

    path: str = Field(min_length=1, max_length=300)
    """automations/NAME.yaml or harness/DOCUMENT (not harness/policy.yaml)."""
    content: str = Field(max_length=MAX_FILE_CHARS)
    """The file's whole new text."""


class ProposeConfigChangeRequest(_Request):
    """Propose a change to automation YAML or harness documents (a person reviews it)."""

    title: str = Field(min_length=1, max_length=200)
    """Title of the proposal."""
    body: str = Field(min_length=1)
    """What goes wrong (with figures), what the change does, and what it should improve."""
    evidence: list[str] = Field(min_length=1, max_length=MAX_EVIDENCE)
    """Ids of the recorded runs the proposal rests on."""
    changes: list[FileChange] = Field(min_length=1, max_length=10)
    """The files to change."""


def check_config_path(rel: str) -> str:
    """Return ``rel`` if a proposal may change it; raise OutputRefused saying why not."""
    parts = Path(rel).parts
    if rel.startswith("/") or "\\" in rel or ".." in parts or rel != Path(rel).as_posix():
        raise OutputRefused(f"{KIND}: path {rel!r} must be a plain relative path")
    if _AUTOMATION_FILE.match(rel):
        return rel
    if len(parts) >= 2 and parts[0] == "harness" and rel != "harness/policy.yaml":
        return rel
    raise OutputRefused(
        f"{KIND}: {rel!r} is not automation YAML (automations/NAME.yaml) or a harness document"
        " (harness/…, not harness/policy.yaml): only those can be proposed"
    )


def _evidence_table(ctx: RunContext, run_ids: Sequence[str]) -> str:
    rows = [
        "| run | automation | status | stop reason | turns | cost |",
        "|---|---|---|---|---|---|",
    ]
    for run_id in dict.fromkeys(run_ids):
        try:
            run = ctx.store.get_run(run_id)
        except RunNotFound:
            raise OutputRefused(
                f"{KIND}: evidence run {run_id!r} is not in the run store"
            ) from None
        reason = (run.stop_reason or run.error or "-").splitlines()[0][:120].replace("|", "/")
        rows.append(
            f"| {run.id} | {run.automation} | {run.status} | {reason} | {run.turns}"
            f" | ${run.cost_usd:.4f} |"
        )
    return "\n".join(rows)


def prepare_config_change(
    request: ProposeConfigChangeRequest,
    ctx: RunContext,
    config: ProposeConfigChangeOutput,
    notes: list[str],
) -> dict[str, Any]:
    """Return the payload of a checked proposal (see the module docstring).

    Raises OutputRefused for a path that may not be proposed, a file named twice, or an
    evidence run the store does not have.
    """
    paths = [check_config_path(change.path) for change in request.changes]
    if len(set(paths)) != len(paths):
        raise OutputRefused(f"{KIND}: a file is named twice")
    # The table's cells come from the store, but stop reasons and errors quote tool output.
    table = sanitize_body(_evidence_table(ctx, request.evidence), ctx.secrets)
    body = sanitize_body(request.body, ctx.secrets)
    text = (
        f"{body.rstrip()}\n\n## Evidence (from the run store)\n\n{table}\n\n"
        f"Proposed by run {ctx.run_id} ({ctx.automation}). The factory never merges a change"
        f" to its own configuration: a person reviews and merges it.\n\n{PROPOSAL_MARK}"
    )
    if len(text) > 60_000:
        notes.append("the description was truncated")
    return {
        "title": sanitize_title(request.title, ctx.secrets),
        "body": cap_text(text, 60_000),
        "changes": [
            {"path": c.path, "content": redact_secrets(c.content, ctx.secrets)}
            for c in request.changes
        ],
        "labels": list(config.labels),
    }
