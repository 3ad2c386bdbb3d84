"""Loopback servers that record every connection, and a proxy that maps names to them."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from factory.interfaces import ExecResult, SandboxLimits
from factory.sandbox.bwrap import BwrapSandbox
from factory.sandbox.egress import EgressAccess, EgressRules
from factory.sandbox.egress_proxy import EgressProxy, map_resolver

TLS_NAMES = ("allowed.test", "evil.test")
OPENSSL_REQ = ("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1")
OPENSSL_REQ += ("-subj", "/CN=allowed.test")


class RecordingServer(ThreadingHTTPServer):
    """A file server on loopback that counts TCP accepts and records each request's Host."""

    daemon_threads = True

    def __init__(
        self, root: Path, *, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None
    ) -> None:
        """Serve ``root`` on ``host`` (``::1`` for IPv6), over TLS when ``tls`` is given."""
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.accepted = 0
        self.hosts: list[str] = []
        self.headers_seen: list[dict[str, str]] = []
        self._tls = tls
        handler = partial(_Handler, directory=str(root))
        super().__init__((host, 0), handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.server_address[1])

    def get_request(self) -> tuple[Any, Any]:
        """Accept one connection, count it, and wrap it in TLS when serving TLS."""
        sock, addr = super().get_request()
        self.accepted += 1
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_side=True)
        return sock, addr


class _Handler(SimpleHTTPRequestHandler):
    server: RecordingServer

    def parse_request(self) -> bool:
        ok = super().parse_request()
        self.server.hosts.append(self.headers.get("Host", ""))
        self.server.headers_seen.append(dict(self.headers))
        return ok

    def do_POST(self) -> None:
        """Echo the request body (Content-Length or chunked) back."""
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            body = b""
            while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class UdpRecorder:
    """A UDP socket on loopback that records every datagram it gets."""

    def __init__(self) -> None:
        """Bind 127.0.0.1 on a free port and listen in a thread."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.received: list[bytes] = []
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                data, _ = self.sock.recvfrom(2048)
            except OSError:
                return
            self.received.append(data)


def make_cert(folder: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for TLS_NAMES; return (cert, key)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    sans = ",".join(f"DNS:{n}" for n in TLS_NAMES)
    subprocess.run(
        [*OPENSSL_REQ, "-addext", f"subjectAltName={sans}", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class EgressWorld:
    """Servers for allowed.test (HTTP, HTTPS), evil.test and a proxy mapping names to them."""

    root: Path
    workspace: Path
    cert: Path
    allowed: RecordingServer
    allowed_tls: RecordingServer
    evil: RecordingServer
    proxy: EgressProxy
    sandbox: BwrapSandbox = field(default_factory=BwrapSandbox)

    def run(self, argv: Sequence[str], timeout_s: float = 60.0) -> ExecResult:
        """Run ``argv`` in the real sandbox with network allowlist through the proxy."""
        return self.sandbox.exec(
            argv,
            workspace=self.workspace,
            network="allowlist",
            limits=SandboxLimits(timeout_s=timeout_s),
            egress=EgressAccess(self.proxy.socket_path),
        )

    def sh(self, script: str) -> ExecResult:
        """Run a shell script in the sandbox."""
        return self.run(["sh", "-c", script])


def egress_world(
    tmp_path: Path, allow: Sequence[str] = ("allowed.test",), **caps: int
) -> Iterator[EgressWorld]:
    """Yield a world (``caps``: the proxy's max_requests/max_bytes); close it afterwards."""
    root = tmp_path / "served"
    root.mkdir()
    (root / "hello.txt").write_text("hello from allowed\n")
    ws = tmp_path / "ws"
    ws.mkdir()
    cert, key = make_cert(ws)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    allowed, allowed_tls, evil = (
        RecordingServer(root),
        RecordingServer(root, tls=tls),
        RecordingServer(root),
    )
    mapping = {
        "allowed.test:80": ("127.0.0.1", allowed.port),
        "allowed.test:443": ("127.0.0.1", allowed_tls.port),
        "evil.test:80": ("127.0.0.1", evil.port),
        "evil.test:443": ("127.0.0.1", evil.port),
    }
    proxy = EgressProxy(EgressRules(list(allow)), resolver=map_resolver(mapping), **caps).start()
    try:
        yield EgressWorld(root, ws, cert, allowed, allowed_tls, evil, proxy)
    finally:
        proxy.close()
        for server in (allowed, allowed_tls, evil):
            server.shutdown()
            server.server_close()
