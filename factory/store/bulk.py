"""Bulk synthetic data for benchmarks: many runs and steps inserted with executemany.

Test and bench support only (the daemon never calls it). Rows go in through big
transactions on the store's writer; the FTS triggers index step text as usual. Everything
is derived from a seeded ``random.Random``, so the same arguments give the same store.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from factory.ids import new_id
from factory.store import rollups
from factory.store.runstore import RunStore

AUTOMATIONS = ("builder", "pr-reviewer", "triage", "planner", "verifier", "auditor")
STATUSES = ("succeeded",) * 7 + ("failed",) * 2 + ("interrupted", "skipped")
REASONS = ("model ended its turn", "turn limit reached", "run budget exceeded", "sandbox error")
WORDS = [
    "fix",
    "the",
    "failing",
    "test",
    "in",
    "the",
    "parser",
    "module",
    "and",
    "update",
    "the",
    "changelog",
    "accordingly",
    "run",
    "pytest",
    "again",
    "check",
    "coverage",
    "open",
    "pull",
    "request",
    "review",
    "diff",
    "label",
    "issue",
    "merge",
    "sandbox",
    "workspace",
    "budget",
    "token",
    "cache",
    "retry",
    "timeout",
    "webhook",
    "event",
    "subject",
    "claim",
]
BATCH = 20_000
RARE_WORD = "segfault"
"""A word in about one tool result in 2,000 (the bench's rare search word)."""


@dataclass(frozen=True)
class BulkResult:
    """What was generated: counts and the id of the run with ``big_run_steps`` steps."""

    runs: int
    steps: int
    big_run_id: str


def _ts(value: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores (naive UTC, microseconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _steps_for(
    rng: random.Random, run_id: str, count: int, start: datetime, big: bool
) -> Iterator[tuple[object, ...]]:
    """Yield step rows (run_id, seq, kind, payload, text, tokens…, created_at)."""
    kinds = ("model_request", "model_response", "tool_call", "tool_result")
    for seq in range(1, count + 1):
        kind = "stop" if seq == count else kinds[(seq - 1) % 4]
        text = ""
        payload: dict[str, object]
        tokens: tuple[int, int, int, int, float, float | None] = (0, 0, 0, 0, 0.0, None)
        if kind == "model_request":
            size = 40 if big else 4
            payload = {
                "messages": [{"role": "user", "content": _sentence(rng, size)}] * (25 if big else 5)
            }
        elif kind == "model_response":
            text = _sentence(rng, 12)
            payload = {"response": {"content": [{"type": "text", "text": text}]}}
            tokens = (rng.randint(500, 5000), rng.randint(20, 800), 400, 0, 0.004, 900.0)
        elif kind == "tool_call":
            command = f"grep -rn {rng.choice(WORDS)} src/"
            text = f"bash: {command}"
            payload = {"id": f"tu_{seq}", "name": "bash", "input": {"command": command}}
        elif kind == "tool_result":
            lines = rng.randint(1, 40 if big else 6)
            text = "\n".join(_sentence(rng, 8) for _ in range(lines))
            if rng.random() < 0.0005:
                text += f" {RARE_WORD}"
            payload = {"tool_use_id": f"tu_{seq - 1}", "content": text, "is_error": False}
        else:
            text = "model ended its turn"
            payload = {"status": "succeeded", "kind": "Submitted", "reason": text}
        created = _ts(start + timedelta(seconds=seq))
        yield (run_id, seq, kind, json.dumps(payload), text, *tokens, created)


def generate(
    store: RunStore,
    *,
    runs: int,
    steps: int,
    big_run_steps: int = 2000,
    days: int = 90,
    seed: int = 6,
    now: datetime | None = None,
) -> BulkResult:
    """Insert ``runs`` runs (with GitHub events for most) and about ``steps`` steps.

    The newest run gets ``big_run_steps`` steps; the rest share the remainder evenly.
    Raises ValueError if there are fewer steps than the big run needs.
    """
    if steps < big_run_steps or runs < 1:
        raise ValueError("need at least one run and at least big_run_steps steps")
    rng = random.Random(seed)
    end = now or datetime.now(UTC)
    start_ms = int((end - timedelta(days=days)).timestamp() * 1000)
    span_ms = days * 86_400_000
    stamps = sorted(start_ms + rng.randrange(span_ms) for _ in range(runs))
    per_run, extra = divmod(steps - big_run_steps, max(runs - 1, 1))
    run_rows: list[tuple[object, ...]] = []
    event_rows: list[tuple[object, ...]] = []
    step_total = 0
    big_id = ""
    with store._write() as conn:
        conn.exec_driver_sql("PRAGMA cache_size = -200000")
        for i, ms in enumerate(stamps):
            run_id = new_id(ms)
            queued = datetime.fromtimestamp(ms / 1000, tz=UTC)
            big = i == runs - 1
            status = "running" if big else rng.choice(STATUSES)
            number = rng.randint(1, 5000)
            event_id = None
            if rng.random() < 0.7:
                event_id = len(event_rows) + 1
                subject = {"kind": "issue", "number": number, "title": _sentence(rng, 6)}
                event_rows.append(
                    (event_id, f"bulk-{event_id}", rng.choice(("github", "github", "schedule")),
                     "issues.labeled", f"issue:{number}", json.dumps(subject), "octocat",
                     "maintainers", 0, "{}", _ts(queued), _ts(queued))
                )  # fmt: skip
            finished = None if status == "running" else _ts(queued + timedelta(minutes=5))
            reason = None if status in ("succeeded", "running") else rng.choice(REASONS)
            run_rows.append(
                (run_id, AUTOMATIONS[i % len(AUTOMATIONS)], f"hash-{i % 3}", "prompt",
                 f"issue:{number}", event_id, status, 1, 0, _ts(queued), _ts(queued), finished,
                 rng.randint(1000, 90000), rng.randint(100, 9000), 0, 0,
                 round(rng.uniform(0.01, 2.0), 4), rng.randint(1, 60), reason)
            )  # fmt: skip
            if big:
                big_id = run_id
        conn.exec_driver_sql(
            "INSERT INTO events (id, dedup_key, source, kind, subject_key, subject, actor, trust,"
            " by_factory, payload, received_at, dispatched_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            event_rows,
        )
        conn.exec_driver_sql(
            "INSERT INTO runs (id, automation, content_hash, prompt_snapshot, subject_key,"
            " event_id, status, attempt, retryable, queued_at, started_at, finished_at,"
            " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd,"
            " turns, stop_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            run_rows,
        )
    batch: list[tuple[object, ...]] = []
    sql = (
        "INSERT INTO steps (run_id, seq, kind, payload, text, input_tokens, output_tokens,"
        " cache_read_tokens, cache_write_tokens, cost_usd, latency_ms, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    for index, row in enumerate(run_rows):
        run_id, queued = str(row[0]), datetime.fromisoformat(str(row[9])).replace(tzinfo=UTC)
        count = big_run_steps if run_id == big_id else per_run + (index < extra)
        batch.extend(_steps_for(rng, run_id, count, queued, run_id == big_id))
        step_total += count
        if len(batch) >= BATCH * 10:
            _flush(store, sql, batch)
    _flush(store, sql, batch)
    with store._write() as conn:
        rollups.rebuild(conn)
    return BulkResult(runs=runs, steps=step_total, big_run_id=big_id)


def _flush(store: RunStore, sql: str, batch: list[tuple[object, ...]]) -> None:
    if batch:
        with store._write() as conn:
            conn.exec_driver_sql(sql, batch)
        batch.clear()
