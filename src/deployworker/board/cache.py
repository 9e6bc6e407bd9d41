"""The board's data: ledger reads through a short cache that every viewer shares.

However many people watch, the ledger is read at most once per `ttl` seconds for the
board (in flight, recent outcomes and rejections: three queries on one day's
partitions, four to five across midnight) and once per `ttl` for each service asked
for. The rendered JSON is cached too, so a viewer costs no work beyond a dict lookup.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from deployworker.aws.dynamodb import LedgerTable
from deployworker.board.view import board_doc, service_doc
from deployworker.ledger import read

DEFAULT_TTL = 3.0
MAX_SERVICES = 256  # services whose history is cached at once
SERVICE_READS_PER_SECOND = 5  # uncached service pages: a viewer cannot drive the ledger


class Busy(Exception):
    """Too many uncached service pages asked for at once: try again in a second."""


class BoardData:
    """The board's documents, as JSON bytes, at most `ttl` seconds old."""

    def __init__(
        self,
        table: LedgerTable,
        region: str | None,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        in_flight_limit: int = 500,
        recent_limit: int = 50,
    ) -> None:
        self._table = table
        self._region = region
        self.ttl = ttl
        self._clock = clock
        self._wall = wall
        self._limits = (in_flight_limit, recent_limit)
        self._lock = threading.Lock()
        self._board: tuple[float, bytes] | None = None
        self._services: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self.reads = 0  # ledger read calls made (each one Query, more when paginated)
        self._service_reads: list[float] = []

    def board(self) -> bytes:
        """The board document (Now, Waiting, Recent, Rejected)."""
        with self._lock:
            if self._board is not None and self._clock() - self._board[0] < self.ttl:
                return self._board[1]
            flight_limit, recent_limit = self._limits
            flight = read.in_flight(self._table, flight_limit)
            now = self._wall()
            # Two UTC days: the board does not empty at midnight.
            ended = read.recent(self._table, days=2, limit=recent_limit, now=now)
            rejected = read.rejected(self._table, days=2, limit=recent_limit, now=now)
            self.reads += 3
            doc = board_doc(flight, ended, rejected, self._region, now, self.ttl)
            body = _encode(doc)
            self._board = (self._clock(), body)
            return body

    def service(self, target: str, limit: int = 30) -> bytes:
        """One target's history document."""
        with self._lock:
            cached = self._services.get(target)
            if cached is not None and self._clock() - cached[0] < self.ttl:
                self._services.move_to_end(target)
                return cached[1]
            now = self._clock()
            self._service_reads = [t for t in self._service_reads if now - t < 1.0]
            if len(self._service_reads) >= SERVICE_READS_PER_SECOND:
                raise Busy(target)
            self._service_reads.append(now)
            entries = read.history(self._table, target, limit)
            self.reads += 1
            body = _encode(service_doc(target, entries, self._region, self._wall()))
            self._services[target] = (self._clock(), body)
            while len(self._services) > MAX_SERVICES:
                self._services.popitem(last=False)
            return body


def _encode(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":"), default=str).encode()
