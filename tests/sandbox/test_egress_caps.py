"""Per-run egress caps and header hygiene, in the real sandbox through the real proxy."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from factory.sandbox.bwrap import BwrapSandbox
from factory.sandbox.egress import EgressAccess, EgressRules
from factory.sandbox.egress_proxy import EgressProxy, map_resolver
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


class RawOrigin:
    """A TCP origin that answers once, then keeps reading: it records every byte it gets."""

    def __init__(self) -> None:
        """Listen on 127.0.0.1 and serve one connection in a thread."""
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.received = b""
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        conn.settimeout(1.0)
        answered = False
        try:
            while data := conn.recv(65536):
                self.received += data
                if not answered and b"\r\n\r\n" in self.received:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    answered = True
        except OSError:
            pass
        conn.close()


def test_pipelined_second_request_with_another_host_never_reaches_the_origin(
    tmp_path: Path,
) -> None:
    """After the first request on a connection nothing more is forwarded (no Host swap)."""
    origin = RawOrigin()
    mapping = {"allowed.test": ("127.0.0.1", origin.port)}
    code = (
        "import socket\ns = socket.create_connection(('127.0.0.1', 3128))\n"
        "get = b'GET http://allowed.test/a HTTP/1.1\\r\\nHost: '\n"
        "s.sendall(get + b'allowed.test\\r\\n\\r\\n' + get + b'evil.test\\r\\n\\r\\n')\n"
        "print(s.recv(65536).split(b'\\r\\n')[0].decode())\n"
    )
    ws = tmp_path / "ws"
    ws.mkdir()
    with EgressProxy(EgressRules(["allowed.test"]), resolver=map_resolver(mapping)) as proxy:
        result = BwrapSandbox().exec(
            ["python3", "-c", code],
            workspace=ws,
            network="allowlist",
            egress=EgressAccess(proxy.socket_path),
        )
    time.sleep(1.2)
    assert (result.stdout, origin.received.count(b"Host:"), b"evil.test" in origin.received) == (
        "HTTP/1.1 200 OK\n",
        1,
        False,
    )


def test_post_bodies_pass_whole_with_content_length_and_chunked(tmp_path: Path) -> None:
    """A POST body arrives whole at the origin, sized or chunked (git smart HTTP sends both)."""
    for world in egress_world(tmp_path):
        result = world.sh(
            "curl -s -d hello-sized http://allowed.test/echo; echo;"
            " printf chunked-body | curl -s -H 'Transfer-Encoding: chunked' --data-binary @-"
            " http://allowed.test/echo"
        )
        assert result.stdout == "hello-sized\nchunked-body"
