"""A loopback TCP server for tests whose peer must misbehave on purpose (a
broker answering garbage, an application callback that never answers).

Each accepted connection is kept (so the peer sees it open until close())
and handed to `handle(conn)` on a thread of its own; `handle` may return at
once to leave the connection open and silent."""

import socket
import threading


class FakeServer:
    def __init__(self, handle):
        self.handle = handle
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.port = self.sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.connections = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.connections.append(conn)
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def close(self):
        self.sock.close()
        for conn in self.connections:
            conn.close()
