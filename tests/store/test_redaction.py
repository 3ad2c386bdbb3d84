"""Configured secrets never reach the SQLite file: the store redacts what it writes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg.types.string import TextLoader
from sqlalchemy import make_url

from factory.events import Event, Subject
from factory.logs import REDACTED, redactor
from factory.store import RunStore
from factory.store.redaction import redact_json, redact_text

SECRET = "sk-store-Secret-8c1e4f"
QUOTED = 'quote"d\\Secret-9a7b'
"""A secret with characters JSON escapes: its escaped form must not be stored either."""


@pytest.fixture(autouse=True)
def _registered() -> None:
    """The secrets are configured ones, known to the process-wide redactor."""
    redactor.add([SECRET, QUOTED])


def raw(db_path: Path, sql: str) -> str:
    """Return every value the query selects, as text, read with plain sqlite3 (or, for a
    PostgreSQL URL, plain psycopg with JSON columns read as the text stored)."""
    if isinstance(db_path, str):
        conninfo = make_url(db_path).set(drivername="postgresql")
        with psycopg.connect(conninfo.render_as_string(hide_password=False)) as pg:
            pg.adapters.register_loader("json", TextLoader)
            rows = pg.execute(sql.encode()).fetchall()
        return " ".join(str(value) for row in rows for value in row)
    with sqlite3.connect(db_path) as conn:
        return " ".join(str(value) for row in conn.execute(sql) for value in row)


def _leaked(db_path: Path, sql: str) -> tuple[bool, bool, bool]:
    """Return (secret stored, quoted secret stored or JSON-escaped, a redaction mark stored)."""
    text = raw(db_path, sql)
    escaped = json.dumps(QUOTED)[1:-1]
    return SECRET in text, QUOTED in text or escaped in text, REDACTED in text


def test_step_text_is_redacted_in_the_file(
    store: RunStore, db_path: Path, make_run: Callable[..., str]
) -> None:
    """A model's text naming a configured secret is stored redacted."""
    run_id = make_run()
    store.add_step(run_id, "model_response", {}, text=f"the key is {SECRET} and {QUOTED}")
    assert _leaked(db_path, "SELECT text FROM steps") == (False, False, True)


def test_step_payload_is_redacted_in_the_file(
    store: RunStore, db_path: Path, make_run: Callable[..., str]
) -> None:
    """A secret deep in a step's JSON payload (values, lists, keys) is stored redacted."""
    run_id = make_run()
    payload = {"content": [{"type": "text", "text": f"x {SECRET}"}], QUOTED: [QUOTED, 3]}
    store.add_step(run_id, "model_response", payload)
    assert _leaked(db_path, "SELECT payload FROM steps") == (False, False, True)


@pytest.mark.sqlite_only  # the FTS5 table; PostgreSQL indexes steps.text itself
def test_step_full_text_index_holds_no_secret(
    store: RunStore, db_path: Path, make_run: Callable[..., str]
) -> None:
    """The full-text index of steps, fed by a trigger, finds no word of the secret."""
    store.add_step(make_run(), "tool_result", {}, text=f"env: TOKEN={SECRET}")
    query = "SELECT count(*) FROM steps_fts WHERE steps_fts MATCH '\"8c1e4f\"'"
    assert raw(db_path, query) == "0"


def test_step_payload_keeps_its_shape(store: RunStore, make_run: Callable[..., str]) -> None:
    """Redaction replaces the secret inside strings and leaves numbers, nulls and nesting."""
    run_id = make_run()
    store.add_step(run_id, "tool_call", {"input": {"cmd": f"echo {SECRET}", "n": 2, "z": None}})
    assert store.steps(run_id)[0].payload == {
        "input": {"cmd": f"echo {REDACTED}", "n": 2, "z": None}
    }


def test_run_stop_reason_and_error_are_redacted_in_the_file(
    store: RunStore, db_path: Path, make_run: Callable[..., str]
) -> None:
    """A finished run's stop reason and error naming a secret are stored redacted."""
    run_id = make_run()
    store.finish_run(run_id, "failed", stop_reason=f"bad {SECRET}", error=f"boom {QUOTED}")
    assert _leaked(db_path, "SELECT stop_reason, error FROM runs") == (False, False, True)


def test_skipped_run_stop_reason_is_redacted_in_the_file(store: RunStore, db_path: Path) -> None:
    """A run created as skipped stores its stop reason redacted."""
    store.create_run("builder", status="skipped", stop_reason=f"skip {SECRET}")
    assert _leaked(db_path, "SELECT stop_reason FROM runs") == (False, False, True)


def test_prompt_snapshot_is_redacted_in_the_file(
    store: RunStore, db_path: Path, make_run: Callable[..., str]
) -> None:
    """Prompt snapshots, when queued and when a run starts, are stored redacted."""
    store.create_run("builder", prompt_snapshot=f"use {SECRET}")
    started = make_run()
    store.start_run(started, "w1", version=("h", f"use {QUOTED}"))
    assert _leaked(db_path, "SELECT prompt_snapshot FROM runs") == (False, False, True)


def test_output_request_and_result_are_redacted_in_the_file(
    store: RunStore, db_path: Path, make_run: Callable[..., str]
) -> None:
    """An output's intent request, result and url are stored redacted."""
    run_id = make_run()
    output_id, _ = store.record_output_intent(run_id, "comment", "k1", {"body": f"a {SECRET}"})
    store.mark_output(output_id, "failed", {"error": f"b {QUOTED}"}, url=f"https://x/{SECRET}")
    assert _leaked(db_path, "SELECT request, result, url FROM outputs") == (False, False, True)


def test_event_payload_and_subject_are_redacted_in_the_file(
    store: RunStore, db_path: Path, make_event: Callable[..., Event]
) -> None:
    """An event whose payload and subject title name a secret is stored redacted."""
    subject = Subject(kind="issue", number=12, title=QUOTED)
    store.add_event(make_event(subject=subject, payload={"comment": {"body": f"leak {SECRET}"}}))
    assert _leaked(db_path, "SELECT payload, subject FROM events") == (False, False, True)


def test_text_without_secrets_is_stored_unchanged(
    store: RunStore, make_run: Callable[..., str]
) -> None:
    """Text naming no secret is stored exactly as given."""
    run_id = make_run()
    store.add_step(run_id, "model_response", {"k": ["v", 1.5]}, text="plain text")
    step = store.steps(run_id)[0]
    assert (step.text, step.payload) == ("plain text", {"k": ["v", 1.5]})


def test_secret_registered_after_opening_is_redacted(
    store: RunStore, db_path: Path, make_run: Callable[..., str]
) -> None:
    """A value added to the redactor after the store opened (a new token) is redacted too."""
    redactor.add(["late-token-value-5521"])
    store.add_step(make_run(), "tool_result", {}, text="late-token-value-5521")
    assert raw(db_path, "SELECT text FROM steps") == REDACTED


def test_redact_text_keeps_none() -> None:
    """A missing text (None) is stored as None, not as a string."""
    assert redact_text(None) is None


def test_redact_json_turns_tuples_into_redacted_lists() -> None:
    """A tuple is redacted element by element and becomes a list, as JSON stores it."""
    assert redact_json((SECRET, 1, True, None)) == [REDACTED, 1, True, None]


def test_redact_json_redacts_string_keys_and_keeps_other_keys() -> None:
    """String keys are redacted; an integer key is kept as it is."""
    assert redact_json({SECRET: 1, 2: SECRET}) == {REDACTED: 1, 2: REDACTED}
