"""Gate measurements on their own bounded pool, each bounded in time.

A gate step runs on the resume pool, which also carries every deploy's resumes (its
rollbacks included). A provider that hangs (a Prometheus that accepts the connection
and never answers, a stuck SDK call) must not hold that pool: the measurement runs on
`MeasurePool`'s few threads, and the step waits for it at most `timeout` seconds, then
counts it as no data. A provider still hung keeps its measure thread; once every
measure thread is taken, further measurements wait in the pool's queue and time out
the same way, so the resume pool is never held longer than `timeout` per step.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from deployworker.rollout.analysis.measure import Measurement, Provider, Query

MEASURE_THREADS = 4
MEASURE_TIMEOUT_SECONDS = 30.0


class MeasurePool:
    """Runs provider calls on a bounded pool, each waited for at most `timeout` s."""

    def __init__(
        self, threads: int = MEASURE_THREADS, timeout: float = MEASURE_TIMEOUT_SECONDS
    ) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="measure")
        self.timeout = timeout  # public: tests shorten it

    def measure(self, provider: Provider, query: Query) -> Measurement:
        """`provider.measure(query)`; no data (with the error) when it raises, when the
        pool is shut down, or when it takes longer than `timeout`."""
        try:
            future = self._pool.submit(provider.measure, query)
        except RuntimeError as exc:  # shut down
            return Measurement(None, 0.0, error=f"provider not called: {exc}")
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            future.cancel()  # still queued: never runs; running: its thread stays taken
            return Measurement(None, 0.0, error=f"provider gave no answer in {self.timeout:g}s")
        except Exception as exc:
            return Measurement(None, 0.0, error=f"provider error: {exc!r}")

    def shutdown(self) -> None:
        """Stop taking measurements; a hung one is left to die with the process."""
        self._pool.shutdown(wait=False, cancel_futures=True)
