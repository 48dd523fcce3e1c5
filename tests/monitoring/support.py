"""Real HTTP servers on loopback for monitoring tests: a site that can go down, and webhook
receivers that record what Slack and Discord would have received."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Site:
    """``http://127.0.0.1:<port>/``: ``up`` answers 200 "Welcome to Clubhouse", ``down``
    answers 503, ``closed`` stops listening (connections are refused) until ``up`` again."""

    def __init__(self) -> None:
        self.mode = "up"
        self.requests = 0
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self.port = 0
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def set(self, mode: str) -> None:
        if mode == "closed":
            self._close()
        elif self._server is None:
            self._listen()
        self.mode = mode

    def stop(self) -> None:
        self._close()

    def _listen(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                with site._lock:
                    site.requests += 1
                up = site.mode == "up"
                status, body = (200, b"<h1>Welcome to Clubhouse</h1>") if up else (503, b"down")
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class Receiver:
    """A webhook receiver at ``http://127.0.0.1:<port><path>``: records each POST's JSON body
    and answers the next of ``answers`` (``(status, body, headers)``; default 200 ``ok``)."""

    def __init__(self, path: str, answers: list[tuple[int, bytes, dict]] | None = None,
                 success_status: int = 200) -> None:
        self.path = path
        self.bodies: list[dict] = []
        self.answers = list(answers or [])
        self.success_status = success_status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                json_body = self.headers.get("Content-Type", "").split(";")[0] == "application/json"
                if self.path != receiver.path or not json_body:
                    status, body, headers = 404, b"no_service", {}
                else:
                    receiver.bodies.append(json.loads(data))
                    if receiver.answers:
                        status, body, headers = receiver.answers.pop(0)
                    else:
                        status, headers = receiver.success_status, {}
                        body = b"ok" if status == 200 else b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
