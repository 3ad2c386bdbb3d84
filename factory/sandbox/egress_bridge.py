"""The in-sandbox bridge: ``python3 -I -S egress_bridge.py SOCKET PORT -- CMD...``.

It listens on ``127.0.0.1:PORT`` (inside the sandbox's own network namespace), forks a child
that forwards each accepted connection to the proxy's Unix socket ``SOCKET``, and execs
``CMD`` in the parent, so the command keeps its pid, exit code and stdio; it listens before
the exec, so the command never races it. The child dies with the sandbox (bubblewrap's pid 1
exits when the command does). Only C modules (``_socket``, ``_thread``) and the preloaded
``os``/``sys`` are imported: each command pays this start-up. Not imported by factoryd.
"""

import _socket
import _thread
import os
import sys

CHUNK = 65536


def _pipe(src: _socket.socket, dst: _socket.socket) -> None:
    """Copy ``src`` to ``dst`` until EOF, then half-close ``dst``."""
    try:
        while True:
            data = src.recv(CHUNK)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:  # noqa: SIM105  (contextlib would cost every command its import)
        dst.shutdown(_socket.SHUT_WR)
    except OSError:
        pass


def _serve(conn: _socket.socket, path: str) -> None:
    """Forward one client connection to the proxy's socket, both ways."""
    upstream = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        upstream.connect(path)
    except OSError:
        conn.close()
        upstream.close()
        return
    done = _thread.allocate_lock()
    done.acquire()

    def back() -> None:
        _pipe(upstream, conn)
        done.release()

    _thread.start_new_thread(back, ())
    _pipe(conn, upstream)
    done.acquire()
    conn.close()
    upstream.close()


def main(args: list[str]) -> None:
    """Listen, fork the forwarder, exec the command."""
    if len(args) < 4 or args[2] != "--":
        sys.stderr.write("usage: egress_bridge.py SOCKET PORT -- CMD...\n")
        sys.exit(2)
    path, port, argv = args[0], int(args[1]), args[3:]
    listener = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    listener.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    if os.fork() == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        try:
            while True:
                fd, _ = listener._accept()  # type: ignore[attr-defined]  # the C accept
                _thread.start_new_thread(_serve, (_socket.socket(fileno=fd), path))
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
