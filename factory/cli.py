"""The ``factoryd`` command line: parses arguments, hands off to the package, prints results."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from factory import __version__

app = typer.Typer(
    name="factoryd",
    help="factoryd runs a software factory: YAML automations as sandboxed LLM agents on GitHub.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sandbox_app = typer.Typer(help="Check the agent sandbox by hand.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Run store to read (default: FACTORY_DATA_DIR/factory.db)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _not_built(command: str, issue: str) -> None:
    typer.echo(f"factoryd {command}: not built yet ({issue}).", err=True)
    raise typer.Exit(2)


def _db_path(db: Path | None) -> Path:
    if db is not None:
        return db
    from factory.settings import Settings

    return Settings().db_path


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


@app.command()
def validate(
    automations: Annotated[Path, typer.Option(help="Folder of automation YAML files.")] = Path(
        "automations"
    ),
    harness: Annotated[
        Path, typer.Option(help="Folder of harness documents and policy.yaml.")
    ] = Path("harness"),
) -> None:
    """Check automations and harness; print every error as FILE:LINE:COL: message (exit 1)."""
    from factory.loader import validate as validate_config

    issues = validate_config(automations, harness)
    for issue in issues:
        typer.echo(str(issue))
    if issues:
        typer.echo(f"{len(issues)} error(s)", err=True)
        raise typer.Exit(1)
    typer.echo("ok")


@app.command()
def runs(
    db: DbOption = None,
    automation: Annotated[str | None, typer.Option(help="Only this automation.")] = None,
    status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many runs.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first."""
    from factory import transcript
    from factory.store import RunStore

    store = RunStore.open(_db_path(db), readonly=True)
    records = store.list_runs(automation=automation, status=status, limit=limit)
    if as_json:
        typer.echo(json.dumps([transcript.run_dict(r) for r in records], indent=2))
    else:
        typer.echo(transcript.runs_table(records))


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="The run's id (see `factoryd runs`).")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print one run's transcript: header, then every step in order."""
    from factory import transcript
    from factory.store import RunStore

    store = RunStore.open(_db_path(db), readonly=True)
    run = store.get_run(run_id)
    steps = store.steps(run_id)
    if as_json:
        typer.echo(json.dumps(transcript.run_with_steps_dict(run, steps), indent=2))
    else:
        typer.echo(transcript.render(run, steps))


@app.command()
def start() -> None:
    """Run the daemon: scheduler, webhooks, poller, workers and the HTTP port."""
    _not_built("start", "issue 5, the daemon")


@app.command()
def run(
    automation: Annotated[str, typer.Argument(help="Automation name.")],
) -> None:
    """Run one automation now (enqueue into the daemon, or in-process)."""
    _not_built("run", "issue 5, the daemon")


@app.command()
def demo() -> None:
    """Run the whole factory offline against built-in fakes and a scripted model."""
    _not_built("demo", "issue 5, the daemon")


@app.command()
def viewer(db: DbOption = None) -> None:
    """Serve the run-log viewer on an existing store (read-only)."""
    _not_built("viewer", "issue 6, the viewer")


@sandbox_app.command(
    "exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def sandbox_exec(
    ctx: typer.Context,
    network: Annotated[str, typer.Option(help="none (default) or full.")] = "none",
    workspace: Annotated[
        Path | None, typer.Option(help="Writable workspace (default: a new empty folder).")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds before it is killed.")] = 120.0,
    backend: Annotated[str, typer.Option(help="bwrap (default) or none (unsandboxed).")] = "bwrap",
) -> None:
    """Run one command exactly as an agent's command runs: `factoryd sandbox exec -- CMD…`.

    Exit code and output are passed through; a timeout exits 124; a sandbox that cannot
    start exits 3 with what to fix.
    """
    from factory.errors import SandboxUnavailable
    from factory.interfaces import SandboxLimits
    from factory.sandbox import sandbox_exec as run_in_sandbox

    if network not in ("none", "full"):
        raise typer.BadParameter("must be 'none' or 'full'", param_hint="--network")
    argv = list(ctx.args)
    if not argv:
        raise typer.BadParameter("give the command after --, e.g. `-- ls -la`")
    try:
        result = run_in_sandbox(
            argv,
            backend=backend,
            workspace=workspace.resolve() if workspace else None,
            network="full" if network == "full" else "none",
            limits=SandboxLimits(timeout_s=timeout),
        )
    except SandboxUnavailable as exc:
        typer.echo(f"sandbox unavailable: {exc}", err=True)
        raise typer.Exit(3) from None
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.timed_out:
        typer.echo(f"killed after {timeout:g}s timeout", err=True)
        raise typer.Exit(124)
    if result.killed_reason:
        typer.echo(f"killed: {result.killed_reason}", err=True)
    raise typer.Exit(result.exit_code)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="factoryd")
    sys.exit(0)
