"""The media plane: sources → switcher → per-language audio → encode once → mux many."""

from orchestrator.media.plane import AvMediaPlane, UnknownSession
from orchestrator.media.probe import probe
from orchestrator.media.settings import MediaSettings

__all__ = ["AvMediaPlane", "MediaSettings", "UnknownSession", "probe"]
