"""Two processes on one store: a writer subprocess while this process reads (and writes)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from factory.store import RunStore

STEPS = 400
ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from factory.store import RunStore
    from factory.interfaces import Usage

    where = sys.argv[1]
    store = RunStore.open(where if "://" in where else Path(where))
    run_id, count = sys.argv[2], int(sys.argv[3])
    store.start_run(run_id, "writer-process")
    for i in range(count):
        store.add_step(run_id, "tool_result", {"i": i, "out": "x" * 200}, text=f"step {i}")
        store.add_usage(run_id, Usage(input_tokens=1), 0.001)
    store.finish_run(run_id, "succeeded")
    """
)


def _spawn_writer(db_path: Path, run_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db_path), run_id, str(STEPS)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_reader_sees_writer_process_rows_without_lock_errors(
    store: RunStore, db_path: Path
) -> None:
    """Reads from a read-only store while another process writes all succeed and see every row."""
    run_id = store.create_run("builder")
    writer = _spawn_writer(db_path, run_id)
    counts: list[int] = []
    with RunStore.open(db_path, readonly=True) as viewer:
        while writer.poll() is None:
            counts.append(len(viewer.steps(run_id)))
            viewer.list_runs()
        _, err = writer.communicate()
        assert writer.returncode == 0, err
        final = viewer.steps(run_id)
    assert [s.seq for s in final] == list(range(1, STEPS + 1))
    assert counts == sorted(counts)


def test_two_writing_processes_interleave_without_lock_errors(
    store: RunStore, db_path: Path
) -> None:
    """This process writes steps to one run while a subprocess writes another; all land."""
    theirs = store.create_run("builder")
    ours = store.create_run("planner")
    writer = _spawn_writer(db_path, theirs)
    written = 0
    while writer.poll() is None:
        store.add_step(ours, "notice", {"n": written})
        written += 1
    _, err = writer.communicate()
    assert writer.returncode == 0, err
    assert (len(store.steps(theirs)), len(store.steps(ours))) == (STEPS, written)


def test_writer_process_totals_are_visible_to_a_reader(store: RunStore, db_path: Path) -> None:
    """After the writer process finishes, a read-only store sees its status and usage totals."""
    run_id = store.create_run("builder")
    writer = _spawn_writer(db_path, run_id)
    _, err = writer.communicate()
    assert writer.returncode == 0, err
    with RunStore.open(db_path, readonly=True) as viewer:
        run = viewer.get_run(run_id)
    assert (run.status, run.input_tokens, run.turns, run.holder) == (
        "succeeded",
        STEPS,
        STEPS,
        "writer-process",
    )


def test_open_read_transaction_does_not_block_writer_process(
    store: RunStore, db_path: Path
) -> None:
    """With a reader's snapshot held open, a writer process still commits (WAL), unseen by it."""
    run_id = store.create_run("builder")
    store.add_step(run_id, "notice", {})
    with RunStore.open(db_path, readonly=True) as viewer, viewer._read() as snapshot:
        before = snapshot.exec_driver_sql("SELECT count(*) FROM steps").scalar()
        writer = _spawn_writer(db_path, run_id)
        _, err = writer.communicate()
        assert writer.returncode == 0, err
        still = snapshot.exec_driver_sql("SELECT count(*) FROM steps").scalar()
        assert (before, still, len(viewer.steps(run_id))) == (1, 1, STEPS + 1)
