"""structlog set-up: console lines for people, JSON lines for machines, secrets always masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from orchestrator.redaction import mask_value


def _mask_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """Last line of defence: SecretStr values and keys/tokens inside URLs never reach the output."""
    return {k: mask_value(v) for k, v in event_dict.items()}


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is at the moment of writing (it may be replaced, e.g. by a
    test runner capturing output, after logging was configured)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure_logging(fmt: str = "console", level: str = "info", stream: Any = None) -> None:
    stream = stream or _CurrentStderr()
    lvl = logging.getLevelName(level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=stream.isatty() if hasattr(stream, "isatty") else False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # JSON lines carry the traceback as text; the console renderer prints it itself.
            *([structlog.processors.format_exc_info] if fmt == "json" else []),
            _mask_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # Libraries that use the standard logging module (apscheduler, aiohttp) go through the same gate.
    logging.basicConfig(level=max(lvl, logging.WARNING), stream=stream, format="%(levelname)s %(name)s: %(message)s")
