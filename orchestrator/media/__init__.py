"""The media plane: sources → switcher → per-language audio → encode once → mux many.

The names below are imported on first use (PEP 562): the publishers' fork server imports
`orchestrator.media.process_writer` only, and should not pay for the whole plane (scipy, aiortc,
PIL: about a second) before the first output of a restarted run can open."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.media.plane import AvMediaPlane, UnknownSession
    from orchestrator.media.probe import probe
    from orchestrator.media.settings import MediaSettings

__all__ = ["AvMediaPlane", "MediaSettings", "UnknownSession", "probe"]

_WHERE = {
    "AvMediaPlane": "orchestrator.media.plane",
    "UnknownSession": "orchestrator.media.plane",
    "probe": "orchestrator.media.probe",
    "MediaSettings": "orchestrator.media.settings",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'orchestrator.media' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
