"""What every fake service shares: a stdlib HTTP server on 127.0.0.1 in a daemon thread."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Self


class LoopbackServer:
    """Base of the fakes: ``start()``/``stop()`` (or ``with``) a server on a free local port.

    Subclasses build their server in ``_make_server`` and may react in ``_on_started`` /
    ``_on_stopped``.
    """

    thread_name = "fake-server"

    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _make_server(self) -> ThreadingHTTPServer:
        raise NotImplementedError

    def _on_started(self, port: int) -> None:
        """Called once the port is bound, before serving starts."""

    def _on_stopped(self) -> None:
        """Called after the server stopped."""

    def start(self) -> Self:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread; return self.

        Raises RuntimeError if already started.
        """
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        self._server = self._make_server()
        self._server.daemon_threads = True
        self._on_started(int(self._server.server_address[1]))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and wait for the thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._on_stopped()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port. Raises RuntimeError when not started."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return int(self._server.server_address[1])
