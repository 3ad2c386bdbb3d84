"""The built wheel, installed in a fresh venv outside the source tree: init, validate, doctor.

The wheel is built from a copy of the tree (`pip wheel . --no-deps`), installed with
``--no-deps`` into a new venv under tmp_path; its dependencies come from this venv's
site-packages by a plain path line (which runs none of this venv's .pth files, so the
editable install of the source tree is not on the path): the test proves the installed
``factory`` is the wheel's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from factory.testing.fake_anthropic import FakeAnthropic

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["pyproject.toml", "README.md", ".env.example", "factory", "automations", "harness"]
"""What the wheel is built from (the symbolic links under factory/defaults point into it)."""

pytestmark = pytest.mark.slow


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in ``cwd`` with exactly ``env``; return it finished (never raises)."""
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module", name="venv")
def venv_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with the factoryd wheel built from this tree installed; its bin dir."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name,
                source / name,
                symlinks=True,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        else:
            shutil.copy2(ROOT / name, source / name)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip = [sys.executable, "-m", "pip"]
    built = run([*pip, "wheel", ".", "--no-deps", "-q", "-w", str(base / "dist")], source, env)
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = (base / "dist").glob("factoryd-*.whl")
    fresh = base / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], base, env)
    assert made.returncode == 0, made.stderr
    python = fresh / "bin" / "python"
    installed = run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        base,
        env,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    purelib = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], base, env
    )
    Path(purelib.stdout.strip(), "zz-factoryd-deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    yield fresh / "bin"


def clean_env(
    bin_dir: Path, home: Path, *, path: str | None = None, **extra: str
) -> dict[str, str]:
    """An environment with none of the host's settings: PATH, HOME and ``extra`` only."""
    return {"PATH": path or f"{bin_dir}:/usr/bin:/bin", "HOME": str(home), **extra}


def test_installed_factory_is_the_wheels(venv: Path, tmp_path: Path) -> None:
    """The fresh venv imports factory from its own site-packages, not from the source tree."""
    env = clean_env(venv, tmp_path)
    found = run(
        [str(venv / "python"), "-c", "import factory; print(factory.__file__)"], tmp_path, env
    )
    assert Path(found.stdout.strip()).is_relative_to(venv.parent) is True


def test_wheel_init_then_validate_config_succeeds(venv: Path, tmp_path: Path) -> None:
    """`factoryd init x && factoryd validate --config x` succeeds outside the source tree."""
    env = clean_env(venv, tmp_path)
    made = run([str(venv / "factoryd"), "init", "x"], tmp_path, env)
    checked = run([str(venv / "factoryd"), "validate", "--config", "x"], tmp_path, env)
    assert (made.returncode, checked.returncode, checked.stdout) == (0, 0, "ok\n")


def test_wheel_doctor_names_no_bwrap_no_token_and_a_bad_key(venv: Path, tmp_path: Path) -> None:
    """With no bwrap on PATH, no GitHub token and a refused key, doctor exits 1 naming each."""
    bin_only = tmp_path / "bin"
    bin_only.mkdir()
    git = shutil.which("git")
    assert git is not None
    (bin_only / "git").symlink_to(git)
    made = run([str(venv / "factoryd"), "init", "x"], tmp_path, clean_env(venv, tmp_path))
    assert made.returncode == 0, made.stderr
    with FakeAnthropic(api_key="sk-good") as fake:
        env = clean_env(
            venv,
            tmp_path,
            path=f"{venv}:{bin_only}",
            GITHUB_REPOSITORY="acme/widgets",
            ANTHROPIC_API_KEY="sk-bad",
            ANTHROPIC_BASE_URL=fake.base_url,
            FACTORY_DATA_DIR=str(tmp_path / "data"),
        )
        doctor = run([str(venv / "factoryd"), "doctor", "--config", "x"], tmp_path, env)
    failures = [line for line in doctor.stdout.splitlines() if line.startswith("FAIL")]
    fixes = [line for line in doctor.stdout.splitlines() if line.startswith("      fix: ")]
    assert (doctor.returncode, failures, len(fixes)) == (
        1,
        [
            "FAIL  sandbox: bubblewrap (bwrap) not found on PATH",
            "FAIL  github: no GitHub credentials (GITHUB_TOKEN or GITHUB_APP_*)",
            "FAIL  webhook secret: GITHUB_WEBHOOK_SECRET is not set: every webhook delivery "
            "is refused",
            "FAIL  anthropic: ANTHROPIC_API_KEY is refused (401)",
        ],
        4,
    )
