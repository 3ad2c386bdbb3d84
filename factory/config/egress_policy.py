"""The ``egress:`` section of ``harness/policy.yaml``: named bundles and per-run caps.

An automation with ``sandbox: {network: allowlist, allow: [...]}`` reaches only what its
``allow`` entries name: a bundle from here (``pypi``, ``npm``, …) or a ``host[:port]``
(``*.example.com`` for subdomains; no port means 80 and 443). Every connection goes through
the run's proxy, which stops a run at ``max_requests`` connections or ``max_bytes`` bytes.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HOST = r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*"
ENTRY_RE = re.compile(rf"^{_HOST}(:[0-9]{{1,5}})?$")
"""A ``host[:port]`` entry (the same syntax factory.sandbox.egress parses)."""
BUNDLE_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
"""A bundle name: no dots or colons, which tells it apart from a host."""


def check_entry(entry: str) -> str:
    """Return ``entry`` if it is a bundle name or ``host[:port]``. Raises ValueError."""
    if BUNDLE_RE.match(entry) or ENTRY_RE.match(entry):
        port = entry.rpartition(":")[2] if ":" in entry else "1"
        if 0 < int(port) < 65536:
            return entry
    raise ValueError(f"egress entry {entry!r} is neither a bundle name nor host[:port]")


class EgressPolicy(BaseModel):
    """Bundles of hosts an automation's ``allow`` can name, and the per-run caps."""

    model_config = ConfigDict(extra="forbid")

    bundles: dict[str, list[str]] = Field(default_factory=dict)
    """Bundle name → ``host[:port]`` entries."""
    max_requests: int = Field(default=2000, ge=1)
    """Connections one run may make through the proxy (allowed ones; denials are free)."""
    max_bytes: int = Field(default=2 * 1024**3, ge=1)
    """Bytes (both ways) one run may move through the proxy."""

    @field_validator("bundles")
    @classmethod
    def _entries_are_hosts(cls, bundles: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, entries in bundles.items():
            if not BUNDLE_RE.match(name):
                raise ValueError(f"bundle name {name!r} must be lowercase letters/digits/-/_")
            for entry in entries:
                if not ENTRY_RE.match(entry):
                    raise ValueError(f"bundle {name!r}: {entry!r} is not host[:port]")
        return bundles
