"""A threaded HTTP(S) server bound to 127.0.0.1, started and stopped by its owner.

Why not plain ``ThreadingHTTPServer``: a TLS handshake done in ``accept()`` would let one slow client
block every other one, and keep-alive connections held by client pools (``requests``/azure-core) would
keep handler threads alive after ``stop()``. Here the handshake runs in the connection's thread and
``stop()`` closes every open connection, so a test's teardown really frees everything.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_LOG = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 ssl_context: ssl.SSLContext | None, app: Any) -> None:
        self.ssl_context = ssl_context
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        try:
            # Headers and body go out in separate writes; without NODELAY each response waits ~40 ms.
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is not None:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            super().finish_request(request, client_address)
        except (ssl.SSLError, OSError) as exc:
            # A client that does not trust the CA, or a connection dropped by stop(): not a server fault.
            _LOG.debug("connection from %s ended: %s", client_address, exc)
        finally:
            with self._open_lock:
                self._open.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        _LOG.debug("error while serving %s", client_address, exc_info=True)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class LoopbackServer:
    """Serves ``handler`` on ``127.0.0.1:port`` (0 = a free port) in a background thread.

    The handler reaches its owner through ``self.server.app``.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, app: Any, port: int = 0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._app = app
        self._port = port
        self._ssl_context = ssl_context
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not started: call start() first")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """The address the server is bound to (always loopback)."""
        if self._server is None:
            raise RuntimeError("the server is not started: call start() first")
        return str(self._server.server_address[0])

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = _Server(("127.0.0.1", self._port), self._handler, self._ssl_context, self._app)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"loopback-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
