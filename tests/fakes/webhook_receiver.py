"""A real HTTP server on loopback that records what it receives: a customer's webhook endpoint."""

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class WebhookReceiver:
    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    # Status codes to answer, in order; after the list runs out, 200.
    statuses: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_receiver() -> WebhookReceiver:
    receiver: WebhookReceiver | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            receiver.received.append(Received(self.path, {k.lower(): v for k, v in
                                                          self.headers.items()}, body))
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.send_header("content-type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"nope")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = WebhookReceiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver
