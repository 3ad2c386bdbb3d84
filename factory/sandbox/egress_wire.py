"""Byte-level pieces of the egress proxy: HTTP request heads and the TLS ClientHello's SNI."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "proxy-authenticate",
        "te",
        "trailer",
        "upgrade",
    }
)
"""Headers not forwarded (``Proxy-Authorization`` among them: no credentials pass)."""


class HeadError(ValueError):
    """A request head the proxy cannot parse (answered 400, never forwarded)."""


@dataclass(frozen=True)
class Head:
    """One HTTP request head: method, target as written, version and header lines."""

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        """Return the first value of header ``name`` (case-insensitive), or None."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


def parse_head(raw: bytes) -> Head:
    """Parse a request head ending in a blank line. Raises HeadError."""
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise HeadError("undecodable request head") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise HeadError(f"bad request line {lines[0][:80]!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or key != key.strip():
            raise HeadError(f"bad header line {line[:80]!r}")
        headers.append((key, value.strip()))
    return Head(parts[0].upper(), parts[1], parts[2], tuple(headers))


def host_port(target: str, method: str, *, default: int | None = None) -> tuple[str, int]:
    """Return the ``(host, port)`` a request targets. Raises HeadError.

    CONNECT (and ``Host:`` values) are ``host[:port]`` (``[v6]:port`` allowed); other methods
    must use the absolute form ``http://host[:port]/…`` (a proxy gets no origin-form).
    """
    if method == "CONNECT":
        parts = urlsplit(f"//{target}")
    else:
        parts = urlsplit(target)
        if parts.scheme != "http":
            raise HeadError(f"only http:// URLs are proxied in plain form, got {target[:80]!r}")
        default = default or 80
    try:
        port = parts.port or default
    except ValueError as exc:
        raise HeadError(f"bad port in {target[:80]!r}") from exc
    if not parts.hostname or port is None:
        raise HeadError(f"no host:port in {target[:80]!r}")
    return parts.hostname.lower().rstrip("."), port


def rebuild_request(head: Head, host: str, port: int) -> bytes:
    """Return the request head for the origin: origin-form target, one request, no proxy bits."""
    parts = urlsplit(head.target)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    lines = [f"{head.method} {path} {head.version}"]
    lines += [f"{k}: {v}" for k, v in head.headers if k.lower() not in HOP_BY_HOP]
    if head.header("host") is None:
        lines.append(f"Host: {host}" if port == 80 else f"Host: {host}:{port}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def rebuild_response(raw: bytes) -> bytes:
    """Return the origin's response head with ``Connection: close`` (one request per tunnel)."""
    lines = raw.decode("latin-1").split("\r\n")
    kept = [lines[0]]
    kept += [line for line in lines[1:] if line and line.split(":")[0].lower() not in HOP_BY_HOP]
    kept.append("Connection: close")
    return ("\r\n".join(kept) + "\r\n\r\n").encode("latin-1")


def sni_of(data: bytes) -> str | None:
    """Return the server_name of a TLS ClientHello at the start of ``data``, or None.

    None also when ``data`` holds only part of the hello (the caller reads more).
    """
    try:
        if data[0] != 0x16 or len(data) < 5:
            return None
        end = 5 + int.from_bytes(data[3:5], "big")
        hello = data[5:end]
        if len(data) < end or hello[0] != 0x01:
            return None
        pos = 4 + 2 + 32  # handshake header, client version, random
        pos += 1 + hello[pos]  # session id
        pos += 2 + int.from_bytes(hello[pos : pos + 2], "big")  # cipher suites
        pos += 1 + hello[pos]  # compression methods
        ext_end = pos + 2 + int.from_bytes(hello[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= ext_end:
            kind = int.from_bytes(hello[pos : pos + 2], "big")
            size = int.from_bytes(hello[pos + 2 : pos + 4], "big")
            if kind == 0:  # server_name: list length, then (type 0, length, name)
                name_len = int.from_bytes(hello[pos + 7 : pos + 9], "big")
                return hello[pos + 9 : pos + 9 + name_len].decode("ascii")
            pos += 4 + size
    except (IndexError, UnicodeDecodeError):
        return None
    return None


async def copy_body(
    reader: asyncio.StreamReader,
    head: Head,
    out: asyncio.StreamWriter,
    count: Callable[[int], None],
) -> None:
    """Copy exactly the body ``head`` announces (chunked or Content-Length) to ``out``.

    Nothing after it is read: a second (pipelined) request never reaches the origin.
    Raises HeadError for a malformed length, IncompleteReadError if the client stops early.
    """

    def send(data: bytes) -> None:
        out.write(data)
        count(len(data))

    if "chunked" in (head.header("transfer-encoding") or "").lower():
        while True:
            line = await reader.readuntil(b"\r\n")
            send(line)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError as exc:
                raise HeadError(f"bad chunk size line {line[:40]!r}") from exc
            if size == 0:
                while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                    send(trailer)
                send(trailer)
                await out.drain()
                return
            send(await reader.readexactly(size + 2))
            await out.drain()
    try:
        left = int(head.header("content-length") or "0")
    except ValueError as exc:
        raise HeadError("bad Content-Length") from exc
    while left > 0:
        data = await reader.read(min(left, 65536))
        if not data:
            raise asyncio.IncompleteReadError(b"", left)
        send(data)
        left -= len(data)
        await out.drain()
