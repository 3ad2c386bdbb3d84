"""``factoryd run AUTOMATION --repo PATH --task TEXT``: one session on a local repository.

For trying a prompt: no GitHub, no claims, no outputs. The repository is mirrored into the
data directory, the run gets its own checkout, the session runs in the sandbox with the
configured model, and the change comes back as a patch file (also recorded as a step).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from factory.config.loader import load_factory
from factory.daemon.dispatch import Dispatcher, enqueue_manual
from factory.daemon.runenv import RunEnv
from factory.daemon.runner import Runner
from factory.daemon.wiring import Sandboxes, make_model
from factory.interfaces import Model
from factory.settings import Settings
from factory.store import RunStore
from factory.workspace import Mirror, Workspaces


@dataclass(frozen=True)
class TrialResult:
    """What a local trial run ended with."""

    run_id: str
    status: str
    stop_reason: str | None
    patch: Path | None
    db_path: Path
    """The trials' store (``factoryd show RUN_ID --db`` this)."""


def run_trial(
    settings: Settings,
    automation: str,
    repo: Path,
    task: str,
    *,
    model: Model | None = None,
) -> TrialResult:
    """Run ``automation`` once on the local git repository ``repo`` with ``task``.

    Raises ConfigError for invalid automations, ValueError for an unknown automation or a
    missing API key, WorkspaceError when ``repo`` is not a git repository.
    """
    config = load_factory(settings.automations_dir, settings.harness_dir)
    if automation not in config.automations:
        raise ValueError(f"no automation named {automation!r}")
    spec = config.automations[automation].model_copy(update={"subject": "none"})
    config.automations[automation] = spec
    # Trials keep their own store and workspaces: a daemon on the same data directory must
    # never recover (and re-run against GitHub) a trial's run.
    data_dir = Path(settings.data_dir) / "trials"
    db_path = data_dir / "factory.db"
    data_dir.mkdir(parents=True, exist_ok=True)
    store = RunStore.open(db_path)
    try:
        mirror = Mirror(data_dir, f"local/{repo.resolve().name}", str(repo.resolve()))
        env = RunEnv(
            store=store,
            config=lambda: config,
            model=model or make_model(settings),
            sandbox_for=Sandboxes(),
            data_dir=data_dir,
            holder="trial",
            workspaces=Workspaces(data_dir, mirror, keep_failed_for=0),
            secrets=tuple(settings.secret_values()),
        )
        dispatcher = Dispatcher(store, lambda: config)
        decision = enqueue_manual(store, dispatcher, automation, task=task)
        run_id = decision.run_id or ""
        if decision.status == "queued":
            run = store.start_run(run_id, "trial", version=(spec.content_hash, spec.source_text))
            Runner(env).execute(run, threading.Event(), spec)
        record = store.get_run(run_id)
        patch = data_dir / "patches" / f"{run_id}.patch"
        return TrialResult(
            run_id, record.status, record.stop_reason, patch if patch.is_file() else None, db_path
        )
    finally:
        store.close()
