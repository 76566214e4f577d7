"""The media plane: sources → switcher → per-language audio → encode once → mux many.

The plane's names are imported on first use (PEP 562): the publishers' fork server imports
`orchestrator.media.process_writer` only, and should not pay for the whole plane (scipy, aiortc,
PIL: about a second) before the first output of a restarted run can open. (`probe` stays eager:
its submodule of the same name would otherwise shadow the function once imported.)"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from orchestrator.media.probe import probe
from orchestrator.media.settings import MediaSettings

if TYPE_CHECKING:
    from orchestrator.media.plane import AvMediaPlane, UnknownSession

__all__ = ["AvMediaPlane", "MediaSettings", "UnknownSession", "probe"]

_LAZY = {"AvMediaPlane", "UnknownSession"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'orchestrator.media' has no attribute {name!r}")
    return getattr(importlib.import_module("orchestrator.media.plane"), name)
