"""Per-run egress caps and header hygiene, in the real sandbox through the real proxy."""

from __future__ import annotations

from pathlib import Path

from tests.sandbox.egress_world import egress_world


def test_request_cap_denies_the_next_request_with_the_reason(tmp_path: Path) -> None:
    """With max_requests=1 the second request gets 403 naming the cap."""
    for world in egress_world(tmp_path, max_requests=1):
        result = world.sh(
            "curl -s -o /dev/null http://allowed.test/hello.txt; curl -s http://allowed.test/"
        )
        assert (result.stdout, world.allowed.accepted) == (
            "factoryd egress denied allowed.test:80: request cap: 1 per run\n",
            1,
        )


def test_byte_cap_cuts_a_download(tmp_path: Path) -> None:
    """With max_bytes=64 KiB a 1 MiB download is cut short and the record says so."""
    for world in egress_world(tmp_path, max_bytes=65536):
        (world.root / "big.bin").write_bytes(b"x" * (1 << 20))
        result = world.sh("curl -s http://allowed.test/big.bin | wc -c")
        rec = world.proxy.records[0]
        assert (int(result.stdout) < (1 << 20), rec.rule.endswith("cut at byte cap 65536")) == (
            True,
            True,
        )


def test_proxy_credentials_are_not_forwarded(tmp_path: Path) -> None:
    """A Proxy-Authorization header the client sends never reaches the origin."""
    for world in egress_world(tmp_path):
        world.run(["curl", "-s", "--proxy-user", "u:secret", "http://allowed.test/hello.txt"])
        seen = world.allowed.headers_seen[0]
        assert ("Proxy-Authorization" in seen, seen["Host"]) == (False, "allowed.test")
