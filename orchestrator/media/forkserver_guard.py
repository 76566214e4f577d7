"""Imported by the publishers' fork server only (preloaded by `process_writer`): it exits as soon
as the orchestrator that started it is gone, however that ended.

The stdlib fork server would outlive a killed orchestrator while any publisher lives (each
publisher holds the fork server's "alive" pipe), and a publisher hung in a connect never reads its
pipe's end-of-file. So: the fork server watches its parent's pid (a pidfd, no polling) and exits
when it ends; each publisher has asked the kernel for SIGKILL when the fork server dies
(`process_writer._die_with_fork_server`). Kill -9 of the orchestrator ends them all within
milliseconds."""

from __future__ import annotations

import os
import select
import threading


def _watch_parent() -> None:
    parent = os.getppid()
    if parent == 1:  # orphaned already, before this import ran
        os._exit(0)
    try:
        pidfd = os.pidfd_open(parent)
    except (AttributeError, OSError):  # not Linux ≥ 5.3: the publishers' pipe EOF is all there is
        return

    def watch() -> None:
        select.select([pidfd], [], [])  # readable once the process has ended
        os._exit(0)

    # The fork server's main thread sits in select() without the GIL; this thread costs nothing.
    threading.Thread(target=watch, name="orchestrator watchdog", daemon=True).start()


_watch_parent()
