"""Fixtures for the platform tests (defined in `platform_helpers.py`)."""

from platform_helpers import (  # noqa: F401  (pytest finds fixtures by name)
    clock,
    facebook,
    journal,
    logs,
    manual_clock,
    notifier,
    rtmp_server,
    secrets_file,
    youtube,
)
