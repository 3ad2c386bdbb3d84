"""Egress allowlist in the real sandbox: every way around the proxy reaches nothing."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.egress_world import EgressWorld, RecordingServer, UdpRecorder, egress_world


def host_address() -> str:
    """Return one of this machine's non-loopback IPv4 addresses (skip the test if none)."""
    out = subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True, check=True)
    for link in json.loads(out.stdout):
        for addr in link.get("addr_info", []):
            if not addr["local"].startswith("127."):
                return str(addr["local"])
    pytest.skip("no non-loopback IPv4 address on this machine")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[EgressWorld]:
    """Loopback servers for allowed.test and evil.test behind a proxy allowing allowed.test."""
    yield from egress_world(tmp_path)


def connect_script(host: str, port: int) -> str:
    """Return python code that opens a TCP connection and prints 'connected' if it worked."""
    return (
        "import socket\n"
        f"try:\n  socket.create_connection(({host!r}, {port}), timeout=3)\n  print('connected')\n"
        "except OSError as e:\n  print(type(e).__name__)\n"
    )


def test_direct_tcp_to_host_loopback_reaches_nothing(world: EgressWorld) -> None:
    """A direct connection to the host's 127.0.0.1 server port fails; the server sees no accept."""
    result = world.run(["python3", "-c", connect_script("127.0.0.1", world.allowed.port)])
    assert (result.stdout, world.allowed.accepted) == ("ConnectionRefusedError\n", 0)


def test_direct_tcp_to_a_host_address_reaches_nothing(world: EgressWorld) -> None:
    """A direct connection to the host's non-loopback address fails; the server sees nothing."""
    server = RecordingServer(world.root, host="0.0.0.0")
    try:
        result = world.run(["python3", "-c", connect_script(host_address(), server.port)])
        assert (result.stdout, server.accepted) == ("OSError\n", 0)
    finally:
        server.shutdown()
        server.server_close()


def test_udp_to_the_host_reaches_nothing(world: EgressWorld) -> None:
    """Datagrams to a host UDP port (on loopback) never arrive."""
    udp = UdpRecorder()
    code = (
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        f"for _ in range(5): s.sendto(b'x', ('127.0.0.1', {udp.port}))\n"
    )
    world.run(["python3", "-c", code])
    time.sleep(0.2)
    assert udp.received == []


def test_dns_lookups_fail_inside(world: EgressWorld) -> None:
    """No name resolves inside the sandbox (the proxy resolves; there is no DNS path)."""
    code = (
        "import socket\nfor n in ('allowed.test', 'pypi.org'):\n"
        "  try:\n    socket.getaddrinfo(n, 443); print(n, 'resolved')\n"
        "  except OSError as e:\n    print(n, type(e).__name__)\n"
    )
    result = world.run(["python3", "-c", code])
    assert result.stdout == "allowed.test gaierror\npypi.org gaierror\n"


def test_ipv6_loopback_of_the_host_reaches_nothing(world: EgressWorld) -> None:
    """A direct IPv6 connection to a server on the host's ::1 fails; it sees no accept."""
    server = RecordingServer(world.root, host="::1")
    try:
        result = world.run(["python3", "-c", connect_script("::1", server.port)])
        assert (result.stdout, server.accepted) == ("ConnectionRefusedError\n", 0)
    finally:
        server.shutdown()
        server.server_close()


def test_ipv6_literal_through_the_proxy_is_denied(world: EgressWorld) -> None:
    """Asking the proxy for an IPv6 literal not on the list gets 403."""
    result = world.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://[::1]:80/"])
    assert result.stdout == "403"


def test_plain_host_header_differing_from_the_url_is_refused(world: EgressWorld) -> None:
    """A plain request to allowed.test carrying Host: evil.test gets 403 and reaches no server."""
    result = world.run(["curl", "-sS", "-H", "Host: evil.test", "http://allowed.test/hello.txt"])
    assert (result.stdout, world.allowed.accepted, world.evil.accepted) == (
        "factoryd egress denied allowed.test:80: Host: evil.test differs from allowed.test:80\n",
        0,
        0,
    )


def test_host_header_in_a_tunnel_differing_from_connect_is_refused(world: EgressWorld) -> None:
    """CONNECT allowed.test:80 then an HTTP request with Host: evil.test reaches no server."""
    result = world.run(
        ["curl", "-sS", "-p", "-H", "Host: evil.test", "http://allowed.test/hello.txt"]
    )
    records = [(r.decision, r.rule) for r in world.proxy.records]
    assert (result.exit_code != 0, world.allowed.accepted, records) == (
        True,
        0,
        [("denied", "Host: evil.test differs from CONNECT allowed.test:80")],
    )


def test_tls_sni_differing_from_connect_is_refused(world: EgressWorld) -> None:
    """CONNECT allowed.test:443 then a ClientHello for evil.test: no byte reaches the server."""
    code = (
        "import socket, ssl\n"
        "s = socket.create_connection(('127.0.0.1', 3128))\n"
        "s.sendall(b'CONNECT allowed.test:443 HTTP/1.1\\r\\nHost: allowed.test:443\\r\\n\\r\\n')\n"
        "print(s.recv(100).split(b'\\r\\n')[0].decode())\n"
        "ctx = ssl.create_default_context(cafile='cert.pem')\n"
        "try:\n  ctx.wrap_socket(s, server_hostname='evil.test'); print('handshake')\n"
        "except (OSError, ssl.SSLError) as e:\n  print('refused')\n"
    )
    result = world.run(["python3", "-c", code])
    records = [(r.decision, r.rule) for r in world.proxy.records]
    assert (result.stdout, world.allowed_tls.accepted, records) == (
        "HTTP/1.1 200 Connection established\nrefused\n",
        0,
        [("denied", "TLS SNI 'evil.test' differs from CONNECT allowed.test:443")],
    )


def test_agent_unsetting_proxy_variables_reaches_nothing(world: EgressWorld) -> None:
    """Without the proxy variables, curl cannot resolve or reach any host."""
    result = world.sh(
        "env -u HTTP_PROXY -u http_proxy -u ALL_PROXY -u all_proxy "
        "curl -sS --max-time 5 http://evil.test/ http://allowed.test/"
    )
    assert (result.exit_code, world.evil.accepted, world.allowed.accepted) == (6, 0, 0)


def test_agent_pointing_the_proxy_at_a_host_port_reaches_nothing(world: EgressWorld) -> None:
    """http_proxy set to the host's server port (a would-be open proxy) connects to nothing."""
    result = world.sh(
        f"http_proxy=http://127.0.0.1:{world.evil.port} "
        f"curl -sS --max-time 5 --proxy http://127.0.0.1:{world.evil.port} http://allowed.test/"
    )
    assert (result.exit_code, world.evil.accepted) == (7, 0)
