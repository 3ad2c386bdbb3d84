"""The output gate: the agent asks, the daemon decides, checks, records and performs.

Invariants (see DESIGN.md, "Outputs are requests"):

* Every request ends as one row of the outputs table: ``refused`` (with the reason the model
  is told), ``failed`` (GitHub said no), or ``intent`` then ``applied`` (with the URL).
* The intent row is committed BEFORE the GitHub call, under a deterministic idempotency key
  (run, kind, target, hash of the prepared content). The object written carries the key in
  a hidden marker (``factory.forge.markers``).
* A row still at ``intent`` may have been written before a crash. Before performing it again
  (a repeated request, ``reconcile`` on restart) the gate asks the performer to *find* it by
  marker or state; only if nothing is found is it performed. So a crash between GitHub's
  reply and the local commit never makes a duplicate.
* Quotas count the run's ``intent`` and ``applied`` rows of a kind; a repeated identical
  request is answered from its row and counts once.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from github.GithubException import GithubException
from pydantic import ValidationError

from factory.crashpoints import crashpoint
from factory.errors import OutputFailed, OutputRefused, PatchRefused
from factory.forge.output_links import link_output
from factory.forge.output_performers import BUILTIN_PERFORMERS, Applied, OutputPerformer
from factory.forge.output_requests import REQUEST_MODELS, PreparedOutput, RunContext, prepare
from factory.forge.sanitize import redact_secrets
from factory.ids import new_id
from factory.store import RunStore
from factory.store.records import OutputRecord

log = structlog.get_logger(__name__)

COUNTED_STATUSES = ("intent", "applied", "staged")
"""Output statuses that use up a kind's quota."""

CRASH_AFTER_GITHUB = "output_after_github"
"""Crash point right after GitHub replied and before the store records it."""

Status = Literal["applied", "refused", "failed", "staged"]


@dataclass(frozen=True)
class OutputDecision:
    """How one output request ended, as told to the model and the daemon."""

    kind: str
    """The output kind."""
    status: Status
    """applied (performed now or earlier), refused (by the checks), failed (by GitHub) or
    staged (recorded as would-have, not performed)."""
    reason: str = ""
    """Why it was refused or failed."""
    url: str | None = None
    """Link to what was written, when applied."""
    output_id: int | None = None
    """The outputs-table row."""
    duplicate: bool = False
    """True when an earlier attempt had already written it (nothing new was written)."""
    notes: tuple[str, ...] = ()
    """What the checks changed (title prefix added, body truncated)."""

    @property
    def ok(self) -> bool:
        """True when the output went through: on GitHub, or staged as would-have."""
        return self.status in ("applied", "staged")

    def text(self) -> str:
        """Return the sentence the model is told."""
        if self.status == "refused":
            return f"refused: {self.reason}"
        if self.status == "failed":
            return f"{self.kind} failed on GitHub: {self.reason}"
        if self.status == "staged":
            # Told as a success, so a staged run goes on as its live twin would.
            lines = [f"staged {self.kind}: recorded as would-have, not performed (staged mode)"]
            return "\n".join(lines + [f"note: {note}" for note in self.notes])
        done = "already performed earlier" if self.duplicate else "performed"
        lines = [f"{done} {self.kind}: {self.url or 'done'}"]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


class OutputGate:
    """Checks output requests, records them, and performs them idempotently."""

    def __init__(self, performers: Mapping[str, OutputPerformer] | None = None) -> None:
        """Use ``performers`` by kind (default: the built-in ones)."""
        self.performers = dict(BUILTIN_PERFORMERS if performers is None else performers)

    # -- requests --------------------------------------------------------------------

    def request(self, ctx: RunContext, kind: str, payload: Mapping[str, Any]) -> OutputDecision:
        """Check and perform one output the agent asked for; return the decision.

        Refusals and GitHub errors come back as decisions (and rows), not exceptions; a
        store error or an unexpected exception from a performer rises.
        """
        try:
            prepared = self._check(ctx, kind, payload)
        except OutputRefused as exc:
            return self._refuse(ctx, kind, payload, str(exc))
        key = prepared.key(ctx.scope)
        if ctx.outputs.staged(kind):
            return self._stage(ctx, prepared, key)
        output_id, existing = ctx.store.record_output_intent(
            ctx.run_id, kind, key, prepared.to_stored()
        )
        if existing is None:
            log.info("output_intent", run_id=ctx.run_id, kind=kind, output_id=output_id)
            crashpoint(f"output_after_intent:{kind}")
            return self._perform(ctx, output_id, prepared, key)
        if existing.status == "applied":
            return OutputDecision(
                kind, "applied", url=existing.url, output_id=output_id, duplicate=True
            )
        return self._settle(ctx, existing, prepared.notes)

    def _check(self, ctx: RunContext, kind: str, payload: Mapping[str, Any]) -> PreparedOutput:
        model = REQUEST_MODELS.get(kind)
        if model is None or getattr(ctx.outputs, kind) is None:
            raise OutputRefused(f"{kind}: not allowed for automation {ctx.automation!r}")
        if kind not in self.performers:
            raise OutputRefused(f"{kind}: this daemon cannot perform it yet")
        try:
            request = model.model_validate(dict(payload))
        except ValidationError as exc:
            raise OutputRefused(f"{kind}: invalid request: {_errors(exc)}") from None
        # Quotas hold across every attempt of one run (its key scope): a retry after a crash
        # cannot write more than the automation allows, even if the model words it anew.
        records = ctx.store.outputs_in_scope(ctx.scope)
        created = [_number(r) for r in records if r.kind == "create_issue"]
        prepared = prepare(kind, request, ctx, [n for n in created if n is not None])
        key = prepared.key(ctx.scope)
        if any(r.idempotency_key == key for r in records):
            return prepared  # a repeat: answered from its row, not counted again
        used = sum(1 for r in records if r.kind == kind and r.status in COUNTED_STATUSES)
        quota: int = getattr(ctx.outputs, kind).max
        if used >= quota:
            raise OutputRefused(f"{kind}: quota reached ({used} of {quota} for this run)")
        return prepared

    def _refuse(
        self, ctx: RunContext, kind: str, payload: Mapping[str, Any], reason: str
    ) -> OutputDecision:
        key = f"{ctx.run_id}:{kind}:refused:{new_id()}"
        stored = _redacted(payload, ctx.secrets)
        output_id, _ = ctx.store.record_output_intent(ctx.run_id, kind, key, stored)
        ctx.store.mark_output(output_id, "refused", {"reason": reason})
        log.info("output_refused", run_id=ctx.run_id, kind=kind, reason=reason)
        return OutputDecision(kind, "refused", reason=reason, output_id=output_id)

    def _stage(self, ctx: RunContext, prepared: PreparedOutput, key: str) -> OutputDecision:
        """Record a checked request as would-have (never ``intent``: reconcile skips it)."""
        kind = prepared.kind
        output_id, existing = ctx.store.record_output_intent(
            ctx.run_id, kind, key, prepared.to_stored(), status="staged"
        )
        if existing is not None and existing.status == "applied":
            return OutputDecision(kind, "applied", url=existing.url, output_id=output_id)
        if existing is None:
            log.info("output_staged", run_id=ctx.run_id, kind=kind, output_id=output_id)
        return OutputDecision(
            kind,
            "staged",
            output_id=output_id,
            duplicate=existing is not None,
            notes=prepared.notes,
        )

    # -- performing --------------------------------------------------------------------

    def _perform(
        self, ctx: RunContext, output_id: int, prepared: PreparedOutput, key: str
    ) -> OutputDecision:
        performer = self.performers[prepared.kind]
        try:
            applied = performer.perform(ctx, prepared, key)
        except GithubException as exc:
            return self._failed(ctx, output_id, prepared.kind, exc)
        except OutputFailed as exc:
            return self._failed(ctx, output_id, prepared.kind, str(exc))
        except (OutputRefused, PatchRefused) as exc:
            # A performer may refuse late (the patch breaks policy, the merge policy says
            # no): the model is told why, as for any refusal.
            ctx.store.mark_output(output_id, "refused", {"reason": str(exc)})
            log.info("output_refused", run_id=ctx.run_id, kind=prepared.kind, reason=str(exc))
            return OutputDecision(prepared.kind, "refused", reason=str(exc), output_id=output_id)
        crashpoint(CRASH_AFTER_GITHUB)
        crashpoint(f"{CRASH_AFTER_GITHUB}:{prepared.kind}")
        decision = self._applied(ctx, output_id, prepared, applied, duplicate=False)
        crashpoint("output_after_applied")
        return decision

    def _settle(
        self, ctx: RunContext, record: OutputRecord, notes: tuple[str, ...] = ()
    ) -> OutputDecision:
        """Finish an output whose row is not applied: find it on GitHub, else perform it."""
        prepared = PreparedOutput.from_stored(record.kind, record.request)
        prepared = PreparedOutput(prepared.kind, prepared.target, prepared.payload, notes)
        performer = self.performers.get(record.kind)
        if performer is None:
            return self._failed(ctx, record.id, record.kind, f"no performer for {record.kind}")
        try:
            found = performer.find(ctx, prepared, record.idempotency_key, record.created_at)
        except GithubException as exc:
            return self._failed(ctx, record.id, record.kind, exc)
        except OutputFailed as exc:
            return self._failed(ctx, record.id, record.kind, str(exc))
        if found is not None:
            return self._applied(ctx, record.id, prepared, found, duplicate=True)
        return self._perform(ctx, record.id, prepared, record.idempotency_key)

    def _applied(
        self,
        ctx: RunContext,
        output_id: int,
        prepared: PreparedOutput,
        applied: Applied,
        *,
        duplicate: bool,
    ) -> OutputDecision:
        ctx.store.mark_output(output_id, "applied", applied.result, applied.url)
        link_output(ctx, prepared.kind, applied.result, output_id)
        log.info(
            "output_found" if duplicate else "output_applied",
            run_id=ctx.run_id,
            kind=prepared.kind,
            output_id=output_id,
            url=applied.url,
        )
        return OutputDecision(
            prepared.kind,
            "applied",
            url=applied.url,
            output_id=output_id,
            duplicate=duplicate,
            notes=prepared.notes,
        )

    def _failed(
        self, ctx: RunContext, output_id: int, kind: str, error: GithubException | str
    ) -> OutputDecision:
        reason = _github_reason(error) if isinstance(error, GithubException) else error
        ctx.store.mark_output(output_id, "failed", {"error": reason})
        log.warning("output_failed", run_id=ctx.run_id, kind=kind, reason=reason)
        return OutputDecision(kind, "failed", reason=reason, output_id=output_id)

    # -- after a crash ---------------------------------------------------------------------

    def reconcile(self, ctx: RunContext) -> list[OutputDecision]:
        """Settle every ``intent`` row of ``ctx.run_id``: mark found ones, perform the rest.

        Returns one decision per settled row, oldest first.
        """
        pending = [r for r in ctx.store.outputs_for_run(ctx.run_id) if r.status == "intent"]
        return [self._settle(ctx, record) for record in pending]

    def reconcile_pending(
        self, store: RunStore, context_for: Callable[[OutputRecord], RunContext]
    ) -> list[OutputDecision]:
        """Settle every ``intent`` row in ``store`` (daemon start), each in its run's context.

        ``context_for`` builds the RunContext of a row's run. Returns one decision per row.
        """
        decisions = []
        for record in store.pending_output_intents():
            decisions.append(self._settle(context_for(record), record))
        log.info("outputs_reconciled", count=len(decisions))
        return decisions


def _number(record: OutputRecord) -> int | None:
    if record.status != "applied" or not isinstance(record.result, dict):
        return None
    number = record.result.get("number")
    return number if isinstance(number, int) else None


def _redacted(payload: Mapping[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    # A refused request is kept as asked, minus secrets (the viewer shows it).
    text = redact_secrets(json.dumps(dict(payload), default=str), secrets)
    with contextlib.suppress(json.JSONDecodeError):
        loaded = json.loads(text)
        if isinstance(loaded, dict):
            return loaded
    return {"redacted": text}


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}" for err in exc.errors()
    )


def _github_reason(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    message = data.get("message") or str(exc.data or "")
    details = data.get("errors")
    return f"HTTP {exc.status}: {message}" + (f" {details}" if details else "")
