"""Child processes that end with the orchestrator, however it ends.

A clean exit stops each child itself (`RtmpServer.stop`, …). For the ends that run no code — a
SIGKILL, an OOM kill, a crash — Linux's parent-death signal (`prctl(PR_SET_PDEATHSIG)`, set in the
child between fork and exec) has the kernel signal the child when the thread that started it dies.
Without it an nginx outlives a killed rehearsal, holding its ports and recording into the run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1

_prctl: Callable[..., int] | None = None
if sys.platform.startswith("linux"):
    # Looked up now, not in the child: between fork and exec only async-signal-safe work is safe.
    _prctl = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True).prctl


def set_parent_death_signal(sig: int = signal.SIGTERM, parent_pid: int | None = None) -> bool:
    """Have the kernel send `sig` to this process when its parent dies (Linux; False elsewhere).
    If the parent (`parent_pid`) is already gone, the signal is raised at once."""
    if _prctl is None:
        return False
    if _prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        return False
    if parent_pid is not None and os.getppid() != parent_pid:  # it died before the prctl
        os.kill(os.getpid(), sig)
    return True


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` for subprocesses: the child gets `sig` when this process dies (None off Linux).
    SIGTERM is nginx's fast shutdown (it also ends an ffprobe)."""
    if _prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        set_parent_death_signal(sig, parent)

    return preexec
