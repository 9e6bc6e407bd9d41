"""The board as a WSGI app: the page, its script and style, and the JSON API.

Mounted at `/board` beside `/metrics` and `/healthz` on the worker's HTTP endpoint
(`observe.httpd`), or under any WSGI server. Read-only: GET and HEAD only. Every
response forbids framing and loading anything from anywhere but the worker itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from deployworker.aws.dynamodb import LedgerTable
from deployworker.board.cache import BoardData, Busy
from deployworker.errors import AwsError
from deployworker.settings import Settings

PREFIX = "/board"
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/board.css": ("board.css", "text/css; charset=utf-8"),
    "/board.js": ("board.js", "text/javascript; charset=utf-8"),
    "/icon.svg": ("icon.svg", "image/svg+xml"),
    "/api/schema.json": ("schema.json", "application/schema+json"),
}
# The page may talk only to the worker that served it (the acceptance's "never calls
# anything but the worker", enforced by the browser).
SECURITY = [
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
]
StartResponse = Callable[..., Any]


def _static(name: str) -> bytes:
    if name == "schema.json":
        return (resources.files("deployworker.board") / name).read_bytes()
    return (resources.files("deployworker.board") / "static" / name).read_bytes()


class Board:
    """The WSGI app; `data` is the cached ledger reader."""

    def __init__(self, data: BoardData) -> None:
        self.data = data
        self._files = {path: (_static(name), kind) for path, (name, kind) in STATIC.items()}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "") or "/"
        path = path.removeprefix(PREFIX) or "/"
        if method not in ("GET", "HEAD"):
            return _reply(start_response, "405 Method Not Allowed", b"read-only\n", "text/plain")
        if path in self._files:
            body, kind = self._files[path]
            return _reply(start_response, "200 OK", body, kind, "max-age=60", method)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            if path == "/api/board.json":
                body = self.data.board()
            elif path == "/api/service.json" and query.get("target"):
                body = self.data.service(query["target"][0][:300])
            else:
                return _reply(start_response, "404 Not Found", b"not found\n", "text/plain")
        except Busy:
            text = b'{"error":"too many service pages at once; try again in a second"}'
            return _reply(start_response, "429 Too Many Requests", text, "application/json")
        except AwsError as exc:
            text = json.dumps({"error": f"the ledger cannot be read: {exc.code}"}).encode()
            return _reply(start_response, "503 Service Unavailable", text, "application/json")
        return _reply(start_response, "200 OK", body, "application/json", "no-store", method)


def _reply(
    start_response: StartResponse,
    status: str,
    body: bytes,
    kind: str,
    cache: str = "no-store",
    method: str = "GET",
) -> list[bytes]:
    headers = [
        ("Content-Type", kind),
        ("Content-Length", str(len(body))),
        ("Cache-Control", cache),
        *SECURITY,
    ]
    start_response(status, headers)
    return [] if method == "HEAD" else [body]


def build_board(settings: Settings, table: LedgerTable | None) -> Board | None:
    """The board when it is on and there is a ledger to read (None otherwise)."""
    if not settings.board_enabled or table is None:
        return None
    return Board(BoardData(table, settings.region, settings.board_cache_seconds))
