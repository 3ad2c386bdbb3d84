"""The host side of the egress allowlist: an HTTP CONNECT + plain HTTP proxy on a Unix socket.

Built on asyncio streams (stdlib), not a proxy framework: the checks need the raw bytes (the
TLS ClientHello's SNI inside a CONNECT tunnel, the ``Host:`` of the first request), the
listener is a per-run Unix socket, and caps and records are per run — which proxy.py's
process-wide flags and plugin threads make awkward and mitmproxy makes heavy.

Per connection: parse one request head; CONNECT ``host:port`` or an absolute-form
``http://host[:port]/`` request is checked against the run's EgressRules; a denial answers
403 with the deciding rule in the body. An allowed CONNECT answers 200, then peeks at the
tunnel's first bytes: TLS must carry an SNI equal to the CONNECT host, plain HTTP a ``Host:``
equal to it; anything else is refused. A plain request's ``Host:`` must equal its URL's host;
hop-by-hop and ``Proxy-*`` headers are dropped and the exchange is one request per
connection. Names are resolved here (a resolver map in tests; else DNS, refusing non-global
addresses). Each connection ends in one EgressRecord (host, port, bytes, decision).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog

from factory.sandbox.egress import EgressRules
from factory.sandbox.egress_wire import (
    Head,
    HeadError,
    copy_body,
    host_port,
    parse_head,
    rebuild_request,
    rebuild_response,
    sni_of,
)

log = structlog.get_logger(__name__)

HEAD_LIMIT = 32768
"""Largest request head accepted (bytes)."""
PEEK_TIMEOUT_S = 10.0
"""How long a tunnel may stay silent before its first bytes are checked."""
CHUNK = 65536

Resolver = Callable[[str, int], tuple[str, int]]
"""Maps a requested ``host, port`` to the address to connect to."""


@dataclass
class EgressRecord:
    """One proxied connection, as written to the run's steps."""

    method: str
    host: str
    port: int
    decision: str
    """``allowed`` or ``denied``."""
    rule: str
    bytes_up: int = 0
    bytes_down: int = 0

    def as_payload(self) -> dict[str, object]:
        """Return the JSON payload of the step."""
        return {
            "method": self.method,
            "host": self.host,
            "port": self.port,
            "decision": self.decision,
            "rule": self.rule,
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
        }


def map_resolver(mapping: Mapping[str, tuple[str, int]]) -> Resolver:
    """Return a resolver that sends ``host:port`` (or ``host``) to fixed addresses (tests)."""

    def resolve(host: str, port: int) -> tuple[str, int]:
        for key in (f"{host}:{port}", host):
            if key in mapping:
                return mapping[key]
        raise OSError(f"no address for {host}:{port} in the resolver map")

    return resolve


INTERNAL_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
"""Private networks an allowed name must not resolve into (the host's own side)."""


def is_internal(address: str) -> bool:
    """Return whether ``address`` is loopback, link-local, private or otherwise not routable."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    special = ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified
    return special or ip.is_reserved or any(ip in net for net in INTERNAL_NETS)


def dns_resolver(host: str, port: int) -> tuple[str, int]:
    """Resolve by DNS on the host; refuse loopback, private and link-local answers."""
    for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(info[4][0])
        if not is_internal(address):
            return address, port
    raise OSError(f"{host} resolves to no public address")


class EgressProxy:
    """One run's proxy: listens on a Unix socket in its own thread until ``close()``."""

    def __init__(
        self,
        rules: EgressRules,
        *,
        resolver: Resolver = dns_resolver,
        max_requests: int = 1000,
        max_bytes: int = 1 << 30,
        record: Callable[[EgressRecord], None] | None = None,
    ) -> None:
        """Proxy for ``rules``; ``record`` is called (from the proxy thread) per connection."""
        self.rules = rules
        self.resolver = resolver
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.records: list[EgressRecord] = []
        self._record = record
        self._requests = 0
        self._bytes = 0
        self._dir = Path(tempfile.mkdtemp(prefix="factoryd-egress-"))
        self.socket_path = self._dir / "proxy.sock"
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> EgressProxy:
        """Bind the socket and serve in a background thread; return self."""
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_unix_server(
                    self._handle, path=str(self.socket_path), limit=HEAD_LIMIT
                )
            )
            self.socket_path.chmod(0o600)
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="egress-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def close(self) -> None:
        """Stop serving and remove the socket."""
        if self._thread is not None and self._server is not None:
            server = self._server

            async def stop() -> None:
                server.close()
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._thread = None
            self._loop.close()
        self.socket_path.unlink(missing_ok=True)
        self._dir.rmdir()

    def __enter__(self) -> EgressProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one connection --------------------------------------------------------------

    def _finish(self, rec: EgressRecord) -> None:
        self.records.append(rec)
        log.info("egress", **rec.as_payload())
        if self._record is not None:
            self._record(rec)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _deny(
        self, writer: asyncio.StreamWriter, rec: EgressRecord, reason: str, status: int = 403
    ) -> None:
        rec.decision, rec.rule = "denied", reason
        body = f"factoryd egress denied {rec.host}:{rec.port}: {reason}\n".encode()
        phrase = {403: "Forbidden", 400: "Bad Request", 502: "Bad Gateway"}.get(status, "Error")
        head = (
            f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
        self._finish(rec)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raw = await reader.readuntil(b"\r\n\r\n")
        try:
            head = parse_head(raw)
            host, port = host_port(head.target, head.method)
        except HeadError as exc:
            await self._deny(writer, EgressRecord("?", "?", 0, "denied", ""), str(exc), 400)
            return
        rec = EgressRecord(head.method, host, port, "denied", "")
        decision = self.rules.decide(host, port)
        if not decision.allowed:
            await self._deny(writer, rec, decision.rule)
            return
        if self._requests >= self.max_requests:
            await self._deny(writer, rec, f"request cap: {self.max_requests} per run")
            return
        if self._bytes >= self.max_bytes:
            await self._deny(writer, rec, f"byte cap: {self.max_bytes} per run")
            return
        if head.method != "CONNECT":
            given = head.header("host")
            if given is not None and host_port(given, "CONNECT", default=port) != (host, port):
                await self._deny(writer, rec, f"Host: {given} differs from {host}:{port}")
                return
        self._requests += 1
        rec.decision, rec.rule = "allowed", decision.rule
        try:  # resolving contacts no upstream; a failure is still answerable with a status
            address = await asyncio.to_thread(self.resolver, host, port)
        except OSError as exc:
            await self._deny(writer, rec, f"cannot resolve: {exc}", 502)
            return
        first, inner = b"", None
        if head.method == "CONNECT":  # check the tunnel's first bytes before any upstream
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            first, inner, refusal = await self._peek(reader, rec)
            if refusal is not None:
                rec.decision, rec.rule = "denied", refusal
                self._finish(rec)
                return
        try:
            up_r, up_w = await asyncio.open_connection(*address)
        except OSError as exc:
            if head.method == "CONNECT":
                rec.decision, rec.rule = "denied", f"upstream unreachable: {exc}"
                self._finish(rec)
            else:
                await self._deny(writer, rec, f"upstream unreachable: {exc}", 502)
            return
        try:
            if head.method == "CONNECT" and inner is None:  # TLS: opaque from here on
                up_w.write(first)
                rec.bytes_up += len(first)
                self._bytes += len(first)
                await self._relay(reader, writer, up_r, up_w, rec, one=None)
            else:  # plain HTTP (proxy form or inside a tunnel): exactly one request
                one = inner or head
                out = rebuild_request(one, host, port)
                up_w.write(out)
                rec.bytes_up += len(out)
                self._bytes += len(out)
                await self._relay(reader, writer, up_r, up_w, rec, one=one)
        finally:
            up_w.close()
            self._finish(rec)

    async def _peek(
        self, reader: asyncio.StreamReader, rec: EgressRecord
    ) -> tuple[bytes, Head | None, str | None]:
        """Read a tunnel's first TLS record or HTTP head; return it, the head, any refusal."""
        try:
            lead = await asyncio.wait_for(reader.readexactly(1), PEEK_TIMEOUT_S)
            if lead[0] == 0x16:
                header = await asyncio.wait_for(reader.readexactly(4), PEEK_TIMEOUT_S)
                size = int.from_bytes(header[2:4], "big")
                body = await asyncio.wait_for(reader.readexactly(size), PEEK_TIMEOUT_S)
                first = lead + header + body
                sni = sni_of(first)
                if sni is None or sni.lower().rstrip(".") != rec.host:
                    return (
                        first,
                        None,
                        f"TLS SNI {sni!r} differs from CONNECT {rec.host}:{rec.port}",
                    )
                return first, None, None
            first = lead + await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PEEK_TIMEOUT_S)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return b"", None, "tunnel closed or stalled before a TLS hello or HTTP head"
        try:
            inner = parse_head(first)
        except HeadError:
            return first, None, "tunnel carries neither TLS nor HTTP"
        given = inner.header("host")
        if given is None or host_port(given, "CONNECT", default=rec.port) != (rec.host, rec.port):
            return first, None, f"Host: {given} differs from CONNECT {rec.host}:{rec.port}"
        return first, inner, None

    async def _relay(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_r: asyncio.StreamReader,
        up_w: asyncio.StreamWriter,
        rec: EgressRecord,
        *,
        one: Head | None,
    ) -> None:
        """Copy both ways until the origin ends; with ``one``, only that request's body up."""

        def count_up(n: int) -> None:
            rec.bytes_up += n
            self._bytes += n

        async def upward() -> None:
            if one is not None:
                with contextlib.suppress(HeadError, OSError, asyncio.IncompleteReadError):
                    await copy_body(reader, one, up_w, count_up)
                return
            while data := await reader.read(CHUNK):
                count_up(len(data))
                up_w.write(data)
                await up_w.drain()
                if self._bytes > self.max_bytes:
                    rec.rule += f"; cut at byte cap {self.max_bytes}"
                    return
            if up_w.can_write_eof():
                up_w.write_eof()

        async def downward() -> None:
            if one is not None:
                raw = await up_r.readuntil(b"\r\n\r\n")
                writer.write(rebuild_response(raw))
                rec.bytes_down += len(raw)
            while data := await up_r.read(CHUNK):
                rec.bytes_down += len(data)
                self._bytes += len(data)
                writer.write(data)
                await writer.drain()
                if self._bytes > self.max_bytes:
                    rec.rule += f"; cut at byte cap {self.max_bytes}"
                    return

        up = asyncio.ensure_future(upward())
        try:
            await downward()
        finally:
            up.cancel()
