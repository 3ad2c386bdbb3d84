"""The files in deploy/ run commands factoryd has and pass systemd's own unit check."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from factory.cli import app

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
UNITS = ["factoryd-control.service", "factoryd-worker.service"]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.distributed.yml").read_text())
    return loaded


def _exec_start(unit: str) -> list[str]:
    lines = (DEPLOY / unit).read_text().splitlines()
    return shlex.split(next(x for x in lines if x.startswith("ExecStart=")).partition("=")[2])


@pytest.mark.parametrize(
    "argv",
    [
        *(_compose()["services"][s]["command"] for s in ("control", "worker")),
        *(_exec_start(unit) for unit in UNITS),
    ],
    ids=["compose-control", "compose-worker", *UNITS],
)
def test_deploy_runs_a_command_factoryd_has(argv: list[str]) -> None:
    """Each service's command is a factoryd command line the CLI accepts (checked with --help)."""
    result = CliRunner().invoke(app, [*argv[1:], "--help"])
    assert (Path(argv[0]).name, result.exit_code) == ("factoryd", 0)


def test_compose_gives_every_process_one_store_and_each_worker_its_own_data() -> None:
    """Control and workers share FACTORY_DATABASE_URL; a worker's /data is its own volume."""
    services = _compose()["services"]
    urls = {services[s]["environment"]["FACTORY_DATABASE_URL"] for s in ("control", "worker")}
    assert (len(urls), "/data" in services["worker"]["volumes"], "ports" in services["worker"]) == (
        1,
        True,
        False,
    )


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_accepts_the_unit(unit: str, tmp_path: Path) -> None:
    """`systemd-analyze verify` finds nothing wrong (ExecStart pointed at this factoryd)."""
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "make test installs systemd (systemd-analyze)"
    factoryd = Path(sys.executable).with_name("factoryd")
    text = (DEPLOY / unit).read_text().replace("/srv/factoryd/.venv/bin/factoryd", str(factoryd))
    (tmp_path / unit).write_text(text)
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(tmp_path / unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
