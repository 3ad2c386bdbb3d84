"""`factoryd sandbox exec --network allowlist --allow HOST[:PORT]` for trying egress by hand."""

from __future__ import annotations

from typer.testing import CliRunner

from factory.cli import app

runner = CliRunner()
ALLOWLIST = ("sandbox", "exec", "--network", "allowlist")


def test_sandbox_exec_allowlist_denies_an_unlisted_host_with_the_rule() -> None:
    """A host not given with --allow gets the proxy's 403 body, naming the list."""
    result = runner.invoke(
        app,
        [*ALLOWLIST, "--allow", "api.example.com:443", "--", "curl", "-s", "http://evil.test/"],
    )
    assert (result.exit_code, result.stdout) == (
        0,
        "factoryd egress denied evil.test:80: default deny: evil.test:80 is not in allow "
        "[api.example.com:443]\n",
    )


def test_sandbox_exec_allow_without_allowlist_is_refused() -> None:
    """--allow with another network would mean nothing: exit 2."""
    result = runner.invoke(app, ["sandbox", "exec", "--allow", "pypi", "--", "true"])
    assert result.exit_code == 2


def test_sandbox_exec_unknown_bundle_is_refused() -> None:
    """A bundle name the policy does not define is a usage error (exit 2)."""
    result = runner.invoke(
        app, ["sandbox", "exec", "--network", "allowlist", "--allow", "nosuch", "--", "true"]
    )
    assert result.exit_code == 2
