"""The ``factoryd`` command line: parses arguments, hands off to the package, prints results."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from factory import __version__
from factory.commands.sandbox_cli import sandbox_app

if TYPE_CHECKING:
    from factory.settings import Settings
    from factory.store import RunStore

app = typer.Typer(
    name="factoryd",
    help="factoryd runs a software factory: YAML automations as sandboxed LLM agents on GitHub.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(sandbox_app, name="sandbox")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Run store to read: a SQLite file or a postgresql+psycopg:// URL "
        "(default: FACTORY_DATABASE_URL, else FACTORY_DATA_DIR/factory.db).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _store_location(db: str | None, settings: Settings | None = None) -> str | Path:
    """The store ``--db`` names (a database URL or a SQLite file), else the settings' store."""
    from factory.store.pg_engine import is_database_url

    if db is not None:
        return db if is_database_url(db) else Path(db)
    if settings is None:
        from factory.settings import Settings

        settings = Settings()
    return settings.store_location


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """factoryd: a software factory daemon."""
    if version:
        typer.echo(__version__)
        raise typer.Exit(0)
    _configure_cli_logging()


def _configure_cli_logging() -> None:
    """Log to stderr; one-shot commands default to warnings only unless FACTORY_LOG_LEVEL says."""
    import os

    from pydantic import ValidationError

    from factory.logs import configure_logging
    from factory.settings import Settings

    try:
        settings = Settings()
    except ValidationError:
        # Bad settings are reported by the commands that need them; logging still works.
        settings = Settings.model_construct()
    if "FACTORY_LOG_LEVEL" not in os.environ:
        settings = settings.model_copy(update={"log_level": "warning"})
    configure_logging(settings)


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Factory config directory (`factoryd init`): its automations/, harness/ and .env.",
    ),
]


@app.command()
def validate(
    automations: Annotated[
        Path | None, typer.Option(help="Folder of automation YAML files.")
    ] = None,
    harness: Annotated[
        Path | None, typer.Option(help="Folder of harness documents and policy.yaml.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Check automations and harness; print every error as FILE:LINE:COL: message (exit 1).

    Warnings (a prompt too short to be cached) go to stderr and do not fail the check.
    """
    from factory.config.loader import validate as validate_config
    from factory.config.loader import validate_warnings

    base = config if config is not None else Path()
    automations_dir, harness_dir = automations or base / "automations", harness or base / "harness"
    issues = validate_config(automations_dir, harness_dir)
    for issue in issues:
        typer.echo(str(issue))
    if issues:
        typer.echo(f"{len(issues)} error(s)", err=True)
        raise typer.Exit(1)
    for warning in validate_warnings(automations_dir, harness_dir):
        typer.echo(str(warning), err=True)
    typer.echo("ok")


@app.command()
def init(
    directory: Annotated[
        Path, typer.Argument(help="New (or empty) directory for the factory config.")
    ] = Path("."),
) -> None:
    """Write a ready factory config (automations, harness, .env.example) as a git repository."""
    from factory.commands.init import init_config
    from factory.errors import GitError, InitRefused

    try:
        written = init_config(directory)
    except (InitRefused, GitError, OSError) as exc:
        _fail(f"cannot init: {exc}")
    typer.echo(
        f"wrote {len(written)} files to {directory} (a git repository); next: fill in "
        f"{directory}/.env from .env.example, `factoryd doctor --config {directory}`, "
        f"`factoryd start --config {directory}`"
    )


@app.command()
def doctor(config: ConfigOption = None) -> None:
    """Check the host, the config and every credential; print each problem with its fix."""
    from factory.commands.doctor import run_checks
    from factory.commands.findings import render

    findings = run_checks(_settings_or_exit(config))
    typer.echo(render(findings))
    if any(not f.ok for f in findings):
        raise typer.Exit(1)


def _open_store(db: str | None) -> RunStore:
    from factory.errors import StoreError
    from factory.store import RunStore

    try:
        return RunStore.open(_store_location(db), readonly=True)
    except StoreError as exc:
        _fail(str(exc))


@app.command()
def runs(
    db: DbOption = None,
    automation: Annotated[str | None, typer.Option(help="Only this automation.")] = None,
    status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many runs.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first, with why a run was skipped or failed."""
    from factory.commands import transcript
    from factory.store.documents import run_dict

    with _open_store(db) as store:
        records = store.list_runs(automation=automation, status=status, limit=limit)
    if as_json:
        typer.echo(json.dumps([run_dict(r) for r in records], indent=2))
    else:
        typer.echo(transcript.runs_table(records))


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="The run's id (see `factoryd runs`).")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print one run's transcript: header, then every step in order."""
    from factory.commands import transcript
    from factory.errors import RunNotFound
    from factory.store.documents import run_with_steps_dict

    with _open_store(db) as store:
        try:
            run = store.get_run(run_id)
        except RunNotFound as exc:
            _fail(str(exc))
        steps = store.steps(run_id)
    if as_json:
        typer.echo(json.dumps(run_with_steps_dict(run, steps), indent=2))
    else:
        typer.echo(transcript.render(run, steps))


def _settings_or_exit(config: Path | None = None) -> Settings:
    from pydantic import ValidationError

    from factory.settings import Settings

    try:
        return Settings() if config is None else Settings.for_config_dir(config)
    except ValidationError as exc:
        typer.echo(f"invalid settings:\n{exc}", err=True)
        raise typer.Exit(1) from None


def _listed(problems: list[str]) -> str:
    return "\n".join(f"  {problem}" for problem in problems)


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


@app.command()
def start(
    config: ConfigOption = None,
    role: Annotated[
        str,
        typer.Option(help="all (one host) or control (no sessions: runs go to the workers)."),
    ] = "all",
) -> None:
    """Run the daemon: scheduler, webhooks, poller, workers and the HTTP port (until SIGTERM)."""
    if role not in ("all", "control"):
        _fail(f"unknown role {role!r}: all or control")
    _serve(config, role)


@app.command()
def worker(config: ConfigOption = None) -> None:
    """Run sessions only: execute the runs a control enqueued (needs PostgreSQL; until SIGTERM)."""
    _serve(config, "worker")


def _serve(config: Path | None, role: str) -> None:
    from factory.daemon.process import Daemon
    from factory.errors import FactoryError, StartRefused
    from factory.logs import configure_logging

    settings = _settings_or_exit(config)
    configure_logging(settings)
    daemon = Daemon(settings)
    if role != "all":
        from factory.daemon.distributed import ControlDaemon, WorkerDaemon

        daemon = ControlDaemon(settings) if role == "control" else WorkerDaemon(settings)
    try:
        daemon.start()
    except StartRefused as exc:
        _fail("cannot start:\n" + _listed(exc.problems))
    except (FactoryError, ValueError, OSError) as exc:
        _fail(f"cannot start: {exc}")
    daemon.serve_forever()


@app.command()
def run(
    automation: Annotated[str, typer.Argument(help="Automation name.")],
    issue: Annotated[int | None, typer.Option(help="Run on this issue.")] = None,
    pr: Annotated[int | None, typer.Option(help="Run on this pull request.")] = None,
    task: Annotated[str | None, typer.Option(help="Extra instruction for the agent.")] = None,
    repo: Annotated[
        Path | None,
        typer.Option(help="Try the automation on a local git repository (no GitHub)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run one automation now: queued into the running daemon, or run here if none runs.

    With --repo PATH --task TEXT it runs one session against a local repository with the
    configured model and prints the run id, the outcome and the patch it produced.
    """
    from factory.events import Subject

    settings = _settings_or_exit(config)
    if issue is not None and pr is not None:
        _fail("give --issue or --pr, not both", 2)
    if repo is not None:
        _run_trial(settings, automation, repo, task)
        return
    subject = None
    if issue is not None:
        subject = Subject(kind="issue", number=issue)
    elif pr is not None:
        subject = Subject(kind="pull_request", number=pr)
    from factory.commands.manual import run_manual
    from factory.errors import ConfigError, FactoryError, StartRefused

    try:
        outcome = run_manual(settings, automation, subject=subject, task=task)
    except ValueError as exc:
        _fail(str(exc), 2)
    except StartRefused as exc:
        _fail("cannot run:\n" + _listed(exc.problems))
    except ConfigError as exc:
        _fail("invalid configuration:\n" + str(exc))
    except FactoryError as exc:
        _fail(f"cannot run: {exc}")
    typer.echo(outcome)


def _run_trial(settings: Settings, automation: str, repo: Path, task: str | None) -> None:
    from factory.commands.trial import run_trial
    from factory.errors import ConfigError, FactoryError

    if not task:
        _fail("--repo needs --task TEXT (what the agent should do)", 2)
    try:
        result = run_trial(settings, automation, repo, task)
    except ConfigError as exc:
        _fail("invalid configuration:\n" + str(exc))
    except (FactoryError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(
        f"run {result.run_id}: {result.status}"
        + (f" ({result.stop_reason})" if result.stop_reason else "")
    )
    if result.patch is not None:
        typer.echo(f"patch: {result.patch}")
    typer.echo(f"transcript: factoryd show {result.run_id} --db {result.db_path}")
    if result.status != "succeeded":
        raise typer.Exit(1)


@app.command()
def demo(
    serve: Annotated[
        bool, typer.Option("--serve", help="Keep the daemon and the fakes running afterwards.")
    ] = False,
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the demo keeps its store (reset at each start).")
    ] = Path(".factoryd-demo"),
    port: Annotated[int, typer.Option(help="The daemon's HTTP port (0: any free port).")] = 0,
    scenario: Annotated[
        str, typer.Option(help="'default', or 'full': the whole loop, timeline and figures.")
    ] = "default",
) -> None:
    """Run the whole factory offline: FakeGitHub, a scripted model and the real daemon."""
    from factory.commands.demo import run_demo, run_scenario
    from factory.errors import FactoryError, StartRefused

    if scenario != "default":
        try:
            run_scenario(scenario, directory.resolve(), say=typer.echo)
        except (FactoryError, OSError, TimeoutError, ValueError) as exc:
            _fail(f"demo failed: {exc}")
        return
    try:
        result = run_demo(directory.resolve(), serve=serve, port=port, say=typer.echo)
    except StartRefused as exc:
        problems = _listed(exc.problems)
        _fail(
            "demo failed (run it from the repository root, where automations/ and harness/ "
            f"are):\n{problems}"
        )
    except (FactoryError, OSError, TimeoutError) as exc:
        _fail(f"demo failed: {exc}")
    if not result.pull_requests:
        raise typer.Exit(1)


@app.command()
def viewer(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8765,
    config: ConfigOption = None,
) -> None:
    """Serve the run-log viewer on an existing store, read-only (safe while the daemon writes)."""
    from factory.errors import StoreError
    from factory.web import serve_viewer

    settings = _settings_or_exit(config)
    token = settings.viewer_token.get_secret_value() if settings.viewer_token else None
    typer.echo(f"viewer on http://{host}:{port}/runs", err=True)
    try:
        serve_viewer(_store_location(db, settings), host, port, token)
    except (StoreError, ValueError) as exc:
        _fail(str(exc))


def main() -> None:
    """Console-script entry point."""
    app(prog_name="factoryd")
    sys.exit(0)
