"""Crash sites for the crash-safety tests.

With `DEPLOYWORKER_FAILPOINT=<name>` in its environment, the process kills itself
with SIGKILL the first time it reaches `failpoint(<name>)`: no cleanup, no
settle, exactly what a lost host or an OOM kill does. Unset, a failpoint costs one
comparison. Names: received, registered, updated, watching, converged, vote_recorded;
for releases release.migrated, release.member (after each member changed),
release.phase (after each phase) and release.rolling_back;
for gates gate_running (a gate step ran) and gate_answered (its hook was answered);
ledger_write (an outcome known, its ledger record not yet written).
"""

from __future__ import annotations

import os
import signal

_ARMED = os.environ.get("DEPLOYWORKER_FAILPOINT") or None


def failpoint(name: str) -> None:
    """SIGKILL this process if the failpoint `name` is armed."""
    if name == _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
