"""The publishers' fork server (see `process_writer`), startable before anything heavy is imported.

This module imports nothing but the standard library, so `summit run` can start the fork server
first thing: its interpreter imports the publisher's media stack (PyAV, numpy) while ours imports
the rest of the application, and a restarted run's outputs need not wait for it."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import threading

# The guard first: the fork server then ends with us (see forkserver_guard). Never import the guard
# here: it watches the parent of the process that imports it. `summit run` starts the fork server
# with this list before even this package is imported (orchestrator.cli.PUBLISHER_PRELOAD, the same).
PRELOAD = ["orchestrator.media.forkserver_guard", "orchestrator.media.process_writer"]

_context: multiprocessing.context.ForkServerContext | None = None
_lock = threading.Lock()


def context() -> multiprocessing.context.ForkServerContext:
    """The forkserver context, preloaded with the publisher's modules (set once per process)."""
    global _context
    with _lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            _context = ctx
        return _context


def warm_up() -> None:
    """Start the fork server now (it does not wait for the server's imports: the first output does)."""
    context()
    multiprocessing.forkserver.ensure_running()
