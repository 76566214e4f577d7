"""An export's bytes, from a file or an http(s) URL, never more than a limit."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from orchestrator.interchange.formats import MAX_BYTES, InterchangeError

TIMEOUT_S = 30.0


def _redacted(url: str) -> str:
    """The URL as errors may show it: no user, password or query (an export link may carry a token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


def read_source(source: str, max_bytes: int = MAX_BYTES) -> tuple[bytes, str]:
    """(bytes, how to name the source in messages)."""
    if source.startswith(("http://", "https://")):
        name = _redacted(source)
        request = urllib.request.Request(source, headers={"User-Agent": "summit-orchestrator import"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                data: bytes = response.read(max_bytes + 1)
        except urllib.error.HTTPError as exc:
            raise InterchangeError(name, [f"the server answered {exc.code} {exc.reason}"]) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise InterchangeError(name, [f"cannot fetch the export ({reason})"]) from None
    else:
        name = source
        path = Path(source)
        try:
            with path.open("rb") as fh:
                data = fh.read(max_bytes + 1)
        except FileNotFoundError:
            raise InterchangeError(name, ["no such file"]) from None
        except OSError as exc:
            raise InterchangeError(name, [f"cannot read it ({exc.strerror})"]) from None
    if len(data) > max_bytes:
        raise InterchangeError(name, [f"the export is larger than the {max_bytes // 2**20} MiB allowed"])
    return data, name
