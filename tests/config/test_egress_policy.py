"""``sandbox: {network: allowlist, allow: [...]}`` and the policy's ``egress:`` section."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from factory.config.automation import SandboxConfig
from factory.config.egress_policy import EgressPolicy
from factory.config.harness import load_harness

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_policy_has_the_six_bundles() -> None:
    """pypi, npm, debian, crates, go and github are defined in the shipped policy."""
    bundles = load_harness(ROOT / "harness").policy.egress.bundles
    assert sorted(bundles) == ["crates", "debian", "github", "go", "npm", "pypi"]


def test_allowlist_with_bundles_and_hosts_validates() -> None:
    """Bundle names and host[:port] entries are accepted with network allowlist."""
    cfg = SandboxConfig(network="allowlist", allow=["pypi", "api.example.com:443"])
    assert cfg.allow == ["pypi", "api.example.com:443"]


def test_allow_without_allowlist_is_refused() -> None:
    """allow with network none would silently mean nothing: it is an error."""
    with pytest.raises(ValidationError, match="needs network: allowlist"):
        SandboxConfig(network="none", allow=["pypi"])


def test_allowlist_needs_bubblewrap() -> None:
    """The unsandboxed backend has no network namespace to keep commands in."""
    with pytest.raises(ValidationError, match="needs backend: bwrap"):
        SandboxConfig(backend="none", network="allowlist", allow=["pypi"])


def test_url_as_allow_entry_is_refused() -> None:
    """A URL is neither a bundle name nor host[:port]."""
    with pytest.raises(ValidationError, match="neither a bundle name nor host"):
        SandboxConfig(network="allowlist", allow=["https://pypi.org/simple"])


def test_port_out_of_range_is_refused() -> None:
    """Port 70000 is not a port."""
    with pytest.raises(ValidationError, match="neither a bundle name nor host"):
        SandboxConfig(network="allowlist", allow=["pypi.org:70000"])


def test_bundle_with_a_bad_entry_is_refused() -> None:
    """A bundle entry must be host[:port]."""
    with pytest.raises(ValidationError, match="not host"):
        EgressPolicy(bundles={"pypi": ["https://pypi.org"]})


def test_unknown_egress_key_is_refused() -> None:
    """A misspelt key is refused rather than ignored."""
    with pytest.raises(ValidationError, match="max_request"):
        EgressPolicy.model_validate({"max_request": 5})


def test_validate_reports_an_unknown_bundle_at_its_position(tmp_path: Path) -> None:
    """An allow entry naming a bundle the policy lacks is reported at FILE:LINE:COL."""
    from factory.config.loader import validate

    (tmp_path / "a.yaml").write_text(
        "name: a\non: [{manual: {}}]\nprompt: p\n"
        "sandbox:\n  network: allowlist\n  allow: [pypi, nosuch]\n"
    )
    issues = validate(tmp_path, ROOT / "harness")
    assert [(i.line, i.col, i.message) for i in issues] == [
        (6, 17, "egress bundle 'nosuch' not in harness policy.yaml")
    ]
