"""The CLI and the viewer read the shared PostgreSQL store of a distributed factory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.store import RunStore
from tests.web.conftest import Seeded, first_answer, free_port, seed

pytestmark = pytest.mark.postgres

runner = CliRunner()
PASSWORD = "pw-3b9c0e17d2"
"""A password put in the store URL (the test server trusts the socket and ignores it)."""


@pytest.fixture
def shared(postgres_url: str) -> Seeded:
    """The seeded runs, in a fresh PostgreSQL store."""
    with RunStore.open(postgres_url) as store:
        return seed(store)


def test_runs_reads_a_database_url_given_with_db(postgres_url: str, shared: Seeded) -> None:
    """`factoryd runs --db postgresql+psycopg://…` lists the shared store's runs."""
    result = runner.invoke(app, ["runs", "--db", postgres_url, "--json"])
    ids = {r["id"] for r in json.loads(result.stdout)}
    assert ids == {shared.finished, shared.running, shared.other}


def test_show_reads_factory_database_url_by_default(
    postgres_url: str, shared: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --db, `factoryd show` reads FACTORY_DATABASE_URL (the store the daemon uses)."""
    monkeypatch.setenv("FACTORY_DATABASE_URL", postgres_url)
    result = runner.invoke(app, ["show", shared.finished, "--json"])
    assert (result.exit_code, json.loads(result.stdout)["id"]) == (0, shared.finished)


def test_viewer_serves_the_shared_store_and_never_logs_its_password(
    postgres_url: str, shared: Seeded
) -> None:
    """`factoryd viewer` on FACTORY_DATABASE_URL answers from PostgreSQL; the URL's password
    is hidden in its log."""
    url = postgres_url.replace("@/", f":{PASSWORD}@/", 1)
    port = free_port()
    env = {**os.environ, "FACTORY_DATABASE_URL": url, "FACTORY_LOG_LEVEL": "info"}
    command = [sys.executable, "-m", "factory", "viewer", "--port", str(port)]
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        answer = first_answer(proc, f"http://127.0.0.1:{port}/runs.json")
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    ids = {r["id"] for r in answer.json()["runs"]} if answer is not None else set()
    assert (ids, "viewer_started" in stderr, PASSWORD in stderr) == (
        {shared.finished, shared.running, shared.other},
        True,
        False,
    )
