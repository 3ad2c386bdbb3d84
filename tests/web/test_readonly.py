"""The viewer reads a store read-only while another process writes it (or its original)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from factory.errors import StoreError
from factory.store import RunStore
from factory.store.bulk import generate
from factory.web import serve_viewer
from tests.web.conftest import Seeded, first_answer, free_port

WRITER = """
import sys, time
from pathlib import Path
from factory.store import RunStore
from factory.store.bulk import generate
with RunStore.open(Path(sys.argv[1])) as store:
    for i in range(int(sys.argv[2])):
        run = store.create_run("writer", subject_key=f"issue:{1000 + i}")
        store.add_step(run, "notice", {"text": "hi"}, text=f"written by the other process {i}")
        if i == 0:
            print("started", flush=True)
        time.sleep(0.01)
print("done", flush=True)
"""


@pytest.fixture
def other_writer(db_path: Path, seeded: Seeded) -> Iterator[Callable[[int], subprocess.Popen[str]]]:
    """Return a starter of a separate process that queues ``n`` runs in the original store."""
    procs: list[subprocess.Popen[str]] = []

    def start(n: int) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db_path), str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def test_viewer_on_a_copy_answers_while_the_original_is_written(
    db_path: Path,
    tmp_path: Path,
    other_writer: Callable[[int], subprocess.Popen[str]],
    client_for: Callable[..., httpx.Client],
) -> None:
    """A read-only viewer on a copy lists the copied runs while another process writes."""
    copy = tmp_path / "copy.db"
    with sqlite3.connect(db_path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    writer = other_writer(200)
    assert writer.stdout is not None
    writer.stdout.readline()
    with RunStore.open(copy, readonly=True) as store:
        client = client_for(store)
        counts = {len(client.get("/runs.json").json()["runs"]) for _ in range(10)}
    assert counts == {3}


def test_viewer_on_the_original_sees_the_other_process_writes(
    db_path: Path,
    other_writer: Callable[[int], subprocess.Popen[str]],
    client_for: Callable[..., httpx.Client],
) -> None:
    """A read-only viewer on the store being written sees the other process's runs."""
    with RunStore.open(db_path, readonly=True) as store:
        client = client_for(store)
        writer = other_writer(20)
        assert writer.stdout is not None
        writer.stdout.read()
        writer.wait(30)
        runs = client.get("/runs.json", params={"automation": "writer", "status": "queued"})
    assert len(runs.json()["runs"]) == 20


def test_serve_viewer_refuses_a_missing_database(tmp_path: Path) -> None:
    """serve_viewer on a path with no database raises StoreError naming it."""
    with pytest.raises(StoreError, match="does not exist"):
        serve_viewer(tmp_path / "missing.db")


def test_factoryd_viewer_serves_a_copy_while_the_original_is_written(
    db_path: Path, tmp_path: Path, other_writer: Callable[[int], subprocess.Popen[str]]
) -> None:
    """`factoryd viewer --db COPY` answers while another process writes the original."""
    copy = tmp_path / "copy.db"
    with sqlite3.connect(db_path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    port = free_port()
    writer = other_writer(300)
    command = [sys.executable, "-m", "factory", "viewer", "--db", str(copy), "--port", str(port)]
    proc = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        answer = first_answer(proc, f"http://127.0.0.1:{port}/runs.json")
        assert answer is not None and len(answer.json()["runs"]) == 3
        assert writer.poll() is None or writer.returncode == 0
    finally:
        proc.terminate()
        proc.wait(10)


def test_bulk_generate_makes_the_requested_shape(tmp_path: Path) -> None:
    """The bench generator makes the runs and steps asked for, the big run included."""
    with RunStore.open(tmp_path / "bulk.db") as store:
        result = generate(store, runs=30, steps=250, big_run_steps=100)
        counts = (len(store.list_runs(limit=100)), len(store.steps(result.big_run_id)))
    assert (result.steps, counts) == (250, (30, 100))
