"""The egress allowlist: rules, and what a sandboxed command needs to reach the proxy.

Design: with ``network: allowlist`` the sandbox keeps its own network namespace (loopback
only); its one way out is the run's ``EgressProxy`` (egress_proxy.py) on the host, listening
on a Unix socket. The socket and ``egress_bridge.py`` are bound into the sandbox, and every
command starts behind the bridge, which listens on ``127.0.0.1:BRIDGE_PORT`` inside and
forwards each connection to the socket. The proxy variables of pip, npm, git, curl and
Python point there. Nothing else leaves: no DNS inside (the proxy resolves names), no routes.

Rules are ``host[:port]`` entries (``*.example.com`` matches subdomains; no port means 80 and
443) or bundle names (``pypi``, ``npm``, …) expanded from the policy's ``egress.bundles``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from factory.errors import SandboxUnavailable

BRIDGE_PORT = 3128
"""The loopback port inside the sandbox where the bridge listens (its own netns)."""
SOCKET_INSIDE = "/run/factoryd/egress.sock"
"""Where the proxy's Unix socket appears inside the sandbox."""
BRIDGE_INSIDE = "/run/factoryd/egress_bridge.py"
"""Where the bridge script appears inside the sandbox."""
BRIDGE_SOURCE = Path(__file__).with_name("egress_bridge.py")
"""The bridge script on the host (stdlib only; run by the sandbox's python3)."""
PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")
"""Interpreters that can run the bridge inside (both under /usr, which the sandbox binds;
the second is the python:3.11-slim image's)."""
DEFAULT_PORTS = (80, 443)
"""The ports an entry without ``:port`` allows."""

_HOST = r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*"
ENTRY_RE = re.compile(rf"^(?P<host>{_HOST})(:(?P<port>[0-9]{{1,5}}))?$")
"""One ``host[:port]`` entry (a leading ``*.`` matches any subdomain)."""
BUNDLE_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
"""A bundle name (no dots: that tells it apart from a host)."""


@dataclass(frozen=True)
class Rule:
    """One allowed destination: a host (or ``*.suffix``) and a port (None: 80 and 443)."""

    host: str
    port: int | None
    source: str
    """The entry it came from (``pypi`` or ``api.example.com:443``): named in decisions."""

    def matches(self, host: str, port: int) -> bool:
        """Return whether ``host:port`` is this rule's destination (host compared lowercase)."""
        host = host.lower().rstrip(".")
        if self.host.startswith("*."):
            ok_host = host.endswith(self.host[1:]) and len(host) > len(self.host) - 1
        else:
            ok_host = host == self.host
        ok_port = port in DEFAULT_PORTS if self.port is None else port == self.port
        return ok_host and ok_port


@dataclass(frozen=True)
class Decision:
    """Whether a destination is allowed, and the rule that decided it (for the 403 body)."""

    allowed: bool
    rule: str


def parse_entry(entry: str, source: str | None = None) -> Rule:
    """Return the Rule of one ``host[:port]`` entry. Raises ValueError for a bad entry."""
    found = ENTRY_RE.match(entry.strip())
    port = int(found.group("port")) if found and found.group("port") else None
    if found is None or (port is not None and not 0 < port < 65536):
        raise ValueError(f"egress entry {entry!r} is not host[:port]")
    return Rule(found.group("host").lower(), port, source or entry)


def is_entry(entry: str) -> bool:
    """Return whether ``entry`` is a bundle name or a ``host[:port]`` (for config checks)."""
    return bool(BUNDLE_RE.match(entry) or ENTRY_RE.match(entry))


class EgressRules:
    """The destinations one run may reach; everything else is denied."""

    def __init__(
        self, allow: Sequence[str], bundles: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        """Expand ``allow`` (bundle names and ``host[:port]``) with ``bundles``.

        Raises ValueError for an unknown bundle or a bad entry.
        """
        rules: list[Rule] = []
        for entry in allow:
            if "." not in entry and ":" not in entry and entry != "localhost":
                if bundles is None or entry not in bundles:
                    known = ", ".join(sorted(bundles or {}))
                    raise ValueError(f"unknown egress bundle {entry!r} (known: {known})")
                rules += [parse_entry(e, source=f"bundle {entry}: {e}") for e in bundles[entry]]
            else:
                rules.append(parse_entry(entry, source=f"allow {entry}"))
        self.rules = tuple(rules)
        self.allow = tuple(allow)

    def decide(self, host: str, port: int) -> Decision:
        """Return the decision for ``host:port``: the first matching rule, else the default."""
        for rule in self.rules:
            if rule.matches(host, port):
                return Decision(True, rule.source)
        listed = ", ".join(self.allow) or "nothing"
        return Decision(False, f"default deny: {host}:{port} is not in allow [{listed}]")


def python_inside() -> str:
    """Return the first of PYTHONS present. Raises SandboxUnavailable if there is none."""
    for path in PYTHONS:
        if Path(path).exists():
            return path
    raise SandboxUnavailable(f"network allowlist needs python3 at one of {PYTHONS}")


def proxy_env(port: int = BRIDGE_PORT) -> dict[str, str]:
    """Return the variables that point curl, Python, pip, npm and git at the bridge."""
    url = f"http://127.0.0.1:{port}"
    return {
        "HTTP_PROXY": url,
        "HTTPS_PROXY": url,
        "http_proxy": url,
        "https_proxy": url,
        "ALL_PROXY": url,
        "all_proxy": url,
        "NO_PROXY": "",
        "no_proxy": "",
        "PIP_PROXY": url,
        "npm_config_proxy": url,
        "npm_config_https_proxy": url,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.proxy",
        "GIT_CONFIG_VALUE_0": url,
    }


@dataclass(frozen=True)
class EgressAccess:
    """What one sandboxed command needs to reach a running proxy: binds, env, wrapper."""

    socket_path: Path
    """The proxy's Unix socket on the host."""

    def bwrap_args(self) -> list[str]:
        """Return the bwrap options that bind the socket and the bridge script inside."""
        return [
            "--ro-bind",
            str(BRIDGE_SOURCE),
            BRIDGE_INSIDE,
            "--bind",
            str(self.socket_path),
            SOCKET_INSIDE,
        ]

    def env(self) -> dict[str, str]:
        """Return the proxy variables (they override any the caller passed)."""
        return proxy_env()

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """Return ``argv`` started behind the bridge (which listens first, then execs it)."""
        bridge = [python_inside(), "-I", "-S", BRIDGE_INSIDE, SOCKET_INSIDE, str(BRIDGE_PORT)]
        return [*bridge, "--", *argv]
