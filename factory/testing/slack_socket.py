"""FakeSlack's Socket Mode endpoint: a WebSocket server (websockets' sync server) on 127.0.0.1.

``apps.connections.open`` hands out ``ws://127.0.0.1:PORT/socket?ticket=…`` URLs; each ticket
opens one connection (an unknown or used ticket is refused with HTTP 401). On connect the
server sends ``hello``; envelopes go to the newest connection; the client's
``{"envelope_id": …}`` frames are recorded as acks. ``disconnect`` sends Slack's disconnect
frame and, like Slack, closes that connection ``close_after`` seconds later.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from factory.testing.slack_state import JSON

WAIT_S = 5.0


def _frame(body: JSON) -> str:
    return json.dumps(body, separators=(",", ":"))


class SocketHub:
    """The WebSocket server and what it saw: connections, envelopes sent, acks received."""

    def __init__(self, app_id: str, close_after: float = 10.0) -> None:
        self.app_id = app_id
        self.close_after = close_after
        self._cond = threading.Condition()
        self._tickets: set[str] = set()
        self._open: list[ServerConnection] = []
        self._current: ServerConnection | None = None
        self._timers: list[threading.Timer] = []
        self.envelopes: dict[str, JSON] = {}
        self.acks: dict[str, JSON | None] = {}
        self.hellos = 0
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Bind a free port and serve in a daemon thread."""
        self._server = serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._check_ticket,
            compression=None,
            close_timeout=1,
        )
        self.port = int(self._server.socket.getsockname()[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-slack-socket", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Close every connection, stop serving and wait for the thread."""
        for timer in self._timers:
            timer.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # -- tickets and connections -----------------------------------------------

    def open_url(self) -> str:
        """Return a fresh one-use connection URL (what apps.connections.open answers)."""
        ticket = str(uuid.uuid4())
        with self._cond:
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}"

    def _check_ticket(self, conn: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        ticket = (parse_qs(url.query).get("ticket") or [""])[0]
        with self._cond:
            if url.path != "/socket" or ticket not in self._tickets:
                return conn.respond(HTTPStatus.UNAUTHORIZED, "invalid ticket\n")
            self._tickets.discard(ticket)
        return None

    def _info(self) -> JSON:
        return {
            "num_connections": len(self._open),
            "debug_info": {"host": "applink-fake-slack", "build_number": 1},
            "connection_info": {"app_id": self.app_id},
        }

    def _handle(self, conn: ServerConnection) -> None:
        with self._cond:
            self._open.append(conn)
            hello = {"type": "hello", **self._info()}
            hello["debug_info"]["approximate_connection_time"] = 18060
        try:
            conn.send(_frame(hello))
            with self._cond:
                self._current = conn
                self.hellos += 1
                self._cond.notify_all()
            for raw in conn:
                self._on_frame(raw)
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                self._open.remove(conn)
                if self._current is conn:
                    self._current = None
                self._cond.notify_all()

    def _on_frame(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            return
        if isinstance(frame, dict) and isinstance(frame.get("envelope_id"), str):
            with self._cond:
                payload = frame.get("payload")
                self.acks[frame["envelope_id"]] = payload if isinstance(payload, dict) else None
                self._cond.notify_all()

    def _connected(self, timeout: float) -> ServerConnection:
        with self._cond:
            if not self._cond.wait_for(lambda: self._current is not None, timeout):
                raise RuntimeError("no Socket Mode client is connected to FakeSlack")
            assert self._current is not None
            return self._current

    # -- what the tests drive ----------------------------------------------------

    def wait_hellos(self, n: int, timeout: float = WAIT_S) -> bool:
        """Wait until ``n`` connections got hello; return whether they did in time."""
        with self._cond:
            return self._cond.wait_for(lambda: self.hellos >= n, timeout)

    def deliver(self, body: JSON, timeout: float = WAIT_S) -> str:
        """Send an events_api envelope carrying ``body``; return its envelope_id.

        Waits up to ``timeout`` for a connected client; raises RuntimeError when none comes.
        """
        envelope = {
            "envelope_id": str(uuid.uuid4()),
            "payload": copy.deepcopy(body),
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        return self._send_envelope(envelope, timeout)

    def resend(self, envelope_id: str, reason: str = "timeout", timeout: float = WAIT_S) -> str:
        """Send the envelope again with ``retry_attempt`` + 1; raises KeyError if unknown."""
        envelope = copy.deepcopy(self.envelopes[envelope_id])
        envelope["retry_attempt"] = int(envelope["retry_attempt"]) + 1
        envelope["retry_reason"] = reason
        return self._send_envelope(envelope, timeout)

    def _send_envelope(self, envelope: JSON, timeout: float) -> str:
        conn = self._connected(timeout)
        with self._cond:
            self.envelopes[envelope["envelope_id"]] = envelope
        conn.send(_frame(envelope))
        return str(envelope["envelope_id"])

    def wait_acked(self, envelope_id: str, timeout: float = WAIT_S) -> bool:
        """Wait until ``envelope_id`` is acked; return whether it was in time."""
        with self._cond:
            return self._cond.wait_for(lambda: envelope_id in self.acks, timeout)

    def disconnect(self, reason: str, timeout: float = WAIT_S) -> None:
        """Send a ``disconnect`` frame to the current client; close that socket later."""
        conn = self._connected(timeout)
        with self._cond:
            frame = {"type": "disconnect", "reason": reason, **self._info()}
            self._current = None
        conn.send(_frame(frame))
        timer = threading.Timer(self.close_after, conn.close)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()
