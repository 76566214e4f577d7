"""structlog set-up: console lines for people, JSON lines for machines, secrets always masked.

The masking is the last processor before rendering, and it masks values, not only patterns:
every secret any live `redaction.Secrets` holds (stream keys the platforms handed out, credentials)
wherever it appears, plus URL userinfo, keys in RTMP paths and secrets in query strings. Tracebacks
are rendered to text first so they pass the same gate; so do the standard-library loggers
(aiohttp, apscheduler), through a formatter that masks the finished line.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from aiohttp.http_exceptions import HttpProcessingError

from orchestrator.redaction import redact_all


def _mask_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """Last line of defence: no secret value, SecretStr, URL credential or key reaches the output."""
    return {k: redact_all(v) if isinstance(v, str | dict | list | tuple) else _plain(v) for k, v in event_dict.items()}


def _plain(value: Any) -> Any:
    """Other values are rendered with repr()/str() later: mask that text too (an exception, a Path)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    masked = redact_all(text)
    return value if masked == text else masked


class _MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return str(redact_all(super().format(record)))


class _RefusedRequests(logging.Filter):
    """aiohttp logs a request it could not parse (a 100 KB header, garbage on the port) with a full
    traceback, quoting the offending bytes — over the live table, perhaps with a token in them. The
    client got its 400 already: one line, the reason without the bytes, is what an operator needs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            reason = str(exc.message).split(":", 1)[0].strip() or type(exc).__name__
            record.msg, record.args = "refused a malformed HTTP request (%s %s)", (exc.code, reason)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class _CancelledJobs(logging.Filter):
    """A run stopped by a signal cancels the actions under way; APScheduler reports each as a job
    that "raised an exception", with the CancelledError's traceback. That is the stop, not a fault:
    one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, asyncio.CancelledError):
            record.msg, record.args = "a job was cancelled: the run is stopping (%s)", (record.getMessage(),)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is at the moment of writing (it may be replaced, e.g. by a
    test runner capturing output, after logging was configured)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


_REFUSED = _RefusedRequests()
_CANCELLED = _CancelledJobs()
_handler: logging.Handler | None = None  # ours on the root logger (replaced on reconfiguration)


def configure_logging(fmt: str = "console", level: str = "info", stream: Any = None) -> None:
    global _handler
    stream = stream or _CurrentStderr()
    lvl = logging.getLevelName(level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(
            colors=stream.isatty() if hasattr(stream, "isatty") else False,
            exception_formatter=structlog.dev.plain_traceback,  # it gets the masked text, already rendered
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # Tracebacks as text before masking, in both formats: a frame's locals or an error
            # message may carry a key.
            structlog.processors.format_exc_info,
            _mask_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # Libraries that use the standard logging module (apscheduler, aiohttp) go through the same gate.
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    _handler = logging.StreamHandler(stream)
    _handler.setFormatter(_MaskingFormatter("%(levelname)s %(name)s: %(message)s"))
    _handler.addFilter(_REFUSED)
    root.addHandler(_handler)
    # On the loggers themselves, so that handlers not ours (a test runner's capture) get them too.
    for name, quiet in (("aiohttp.server", _REFUSED), ("apscheduler.executors.default", _CANCELLED)):
        logger = logging.getLogger(name)
        if quiet not in logger.filters:
            logger.addFilter(quiet)
    root.setLevel(max(lvl, logging.WARNING))
