"""A real HTTP server on loopback serving images: someone else's website holding a reference
image. `routes` maps a path to (status, headers, body)."""

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ImageHost:
    server: ThreadingHTTPServer
    routes: dict = field(default_factory=dict)

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_image_host() -> ImageHost:
    host: ImageHost | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            status, headers, body = host.routes.get(self.path, (404, {}, b"not found"))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host = ImageHost(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return host
