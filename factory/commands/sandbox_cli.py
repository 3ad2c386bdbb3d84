"""``factoryd sandbox``: run one command by hand exactly as an agent's command runs.

Typer commands of the ``sandbox`` group (``factory.cli`` adds the group to the app): they
parse, hand off to ``factory.sandbox.sandbox_exec`` and print, as the rest of the CLI does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

sandbox_app = typer.Typer(help="Check the agent sandbox by hand.", no_args_is_help=True)


@sandbox_app.command(
    "exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def sandbox_exec(
    ctx: typer.Context,
    network: Annotated[str, typer.Option(help="none (default), full or allowlist.")] = "none",
    allow: Annotated[
        list[str] | None, typer.Option(help="With allowlist: HOST[:PORT] or a policy bundle.")
    ] = None,
    workspace: Annotated[
        Path | None, typer.Option(help="Writable workspace (default: a new empty folder).")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds before it is killed.")] = 120.0,
    backend: Annotated[str, typer.Option(help="bwrap (default) or none (unsandboxed).")] = "bwrap",
    disk: Annotated[
        str | None,
        typer.Option(
            help="Workspace on a tmpfs of SIZE, e.g. 64m (root; a --workspace is overlaid "
            "and the command's writes are dropped)."
        ),
    ] = None,
) -> None:
    """Run one command exactly as an agent's command runs: `factoryd sandbox exec -- CMD…`.

    Exit code and output are passed through; a timeout exits 124; a sandbox that cannot
    start exits 3 with what to fix.
    """
    from factory.config.automation import parse_memory_mb
    from factory.errors import SandboxUnavailable
    from factory.interfaces import SandboxLimits
    from factory.sandbox import sandbox_exec as run_in_sandbox

    if network not in ("none", "full", "allowlist"):
        raise typer.BadParameter("must be 'none', 'full' or 'allowlist'", param_hint="--network")
    if allow and network != "allowlist":
        raise typer.BadParameter("needs --network allowlist", param_hint="--allow")
    argv = list(ctx.args)
    if not argv:
        raise typer.BadParameter("give the command after --, e.g. `-- ls -la`")
    try:
        disk_mb = parse_memory_mb(disk) if disk is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--disk") from None
    try:
        result = run_in_sandbox(
            argv,
            backend=backend,
            workspace=workspace.resolve() if workspace else None,
            limits=SandboxLimits(timeout_s=timeout),
            disk_mb=disk_mb,
            **_egress_options(network, allow or []),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--allow") from None
    except (SandboxUnavailable, OSError) as exc:  # OSError: the --disk mount failed
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


def _egress_options(network: str, allow: list[str]) -> dict[str, Any]:
    """Return sandbox_exec's allowlist options (bundles from ./harness/policy.yaml if any)."""
    if network != "allowlist":
        return {"network": "full" if network == "full" else "none"}
    from factory.config.harness import read_harness

    harness, _ = read_harness(Path("harness"))
    bundles = harness.policy.egress.bundles if harness else {}
    return {"network": "allowlist", "allow": allow, "bundles": bundles}
