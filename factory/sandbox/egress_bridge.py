"""The in-sandbox bridge: ``python3 egress_bridge.py SOCKET PORT -- CMD...`` (stdlib only).

It listens on ``127.0.0.1:PORT`` (inside the sandbox's own network namespace), forks a child
that forwards each accepted connection to the proxy's Unix socket ``SOCKET``, and execs
``CMD`` in the parent, so the command keeps its pid, exit code and stdio. The child dies with
the sandbox (bubblewrap's pid 1 exits when the command does). Not imported by factoryd.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading

CHUNK = 65536


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    """Copy ``src`` to ``dst`` until EOF, then half-close ``dst``."""
    try:
        while True:
            data = src.recv(CHUNK)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def _serve(conn: socket.socket, path: str) -> None:
    """Forward one client connection to the proxy's socket, both ways."""
    try:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(path)
    except OSError:
        conn.close()
        return
    back = threading.Thread(target=_pipe, args=(upstream, conn), daemon=True)
    back.start()
    _pipe(conn, upstream)
    back.join()
    conn.close()
    upstream.close()


def _loop(listener: socket.socket, path: str) -> None:
    """Accept connections forever (until the sandbox is torn down)."""
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_serve, args=(conn, path), daemon=True).start()


def main(args: list[str]) -> None:
    """Listen, fork the forwarder, exec the command."""
    if len(args) < 4 or args[2] != "--":
        sys.stderr.write("usage: egress_bridge.py SOCKET PORT -- CMD...\n")
        sys.exit(2)
    path, port, argv = args[0], int(args[1]), args[3:]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    if os.fork() == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        try:
            _loop(listener, path)
        finally:
            os._exit(0)
    listener.close()
    try:
        os.execvp(argv[0], argv)  # noqa: S606  (exec the command itself: no shell)
    except OSError as exc:
        sys.stderr.write(f"{argv[0]}: {exc.strerror}\n")
        sys.exit(127)


if __name__ == "__main__":
    main(sys.argv[1:])
