"""Workspaces pinned to a commit: ``workspace: merge-commit`` for merged pull requests.

A post-merge verifier must check exactly what merged, even when the default branch has
moved on by the time the run starts. Its workspace is therefore the merge commit itself
(detached), read from the event: the daemon's own ``_factory.merged_pull.merge_sha`` (a
push or deployment that merges a factory pull request, ``factory.daemon.merge_events``),
or a ``pull_request`` webhook's ``merge_commit_sha`` when it says ``merged``. Only a full
hex sha is taken; without one the run fails with the reason rather than check the tip.
"""

from __future__ import annotations

import re

from factory.events import Event
from factory.workspace.mirror import ref_for_mode

MERGE_COMMIT = "merge-commit"
_SHA_RE = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


def merge_sha_of(event: Event | None) -> str | None:
    """Return the merge commit sha ``event`` names, or None when it names none."""
    if event is None:
        return None
    meta = event.payload.get("_factory")
    merged = meta.get("merged_pull") if isinstance(meta, dict) else None
    if isinstance(merged, dict) and _is_sha(merged.get("merge_sha")):
        return str(merged["merge_sha"])
    pull = event.payload.get("pull_request")
    if isinstance(pull, dict) and pull.get("merged") is True:
        sha = pull.get("merge_commit_sha")
        return str(sha) if _is_sha(sha) else None
    return None


def ref_for(mode: str, pull_number: int | None, event: Event | None) -> str | None:
    """Return the ref to check out for workspace ``mode`` (``ref_for_mode`` plus
    ``merge-commit``: the event's merge sha).

    Raises ValueError as ``ref_for_mode`` does, or for ``merge-commit`` without a merge sha.
    """
    if mode != MERGE_COMMIT:
        return ref_for_mode(mode, pull_number=pull_number)
    sha = merge_sha_of(event)
    if sha is None:
        raise ValueError("workspace merge-commit: the event names no merged pull request's sha")
    return sha


def _is_sha(value: object) -> bool:
    return isinstance(value, str) and _SHA_RE.fullmatch(value) is not None
