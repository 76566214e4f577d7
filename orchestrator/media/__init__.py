"""The media plane: sources → switcher → per-language audio → encode once → mux many."""

from orchestrator.media.probe import probe
from orchestrator.media.programme import MediaProgramme, UnknownSession
from orchestrator.media.settings import MediaSettings

__all__ = ["MediaProgramme", "MediaSettings", "UnknownSession", "probe"]
