"""One destination of one session: which writers publish it (primary; backup too when pushing
both) and where they run (files in-process, network outputs in a publisher process)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol

from orchestrator.engine.ports import IngestTarget, OutputReport, OutputSpec
from orchestrator.media.encoder import EncodedPacket
from orchestrator.media.process_writer import ProcessWriter
from orchestrator.media.publisher import Samples, ThreadWriter, log_emit
from orchestrator.media.settings import MediaSettings


class Writer(Protocol):
    @property
    def target(self) -> str: ...

    @property
    def cpu_s(self) -> float:
        """CPU seconds spent outside this process (publisher processes)."""

    def feed(self, packets: list[EncodedPacket]) -> None: ...

    def close(self, timeout: float = 15.0) -> OutputReport: ...


class OutputSink:
    def __init__(
        self,
        spec: OutputSpec,
        samples: Samples,
        settings: MediaSettings,
        request_keyframe: Callable[[], None],
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        label = f"{spec.session_id}/{spec.destination_id}"

        def emit(level: str, event: str, fields: dict[str, Any]) -> None:
            log_emit(level, event, fields)
            if on_error is not None and event == "output_error":
                on_error(str(fields.get("error", "")))  # already masked by the publisher

        kind: type[ThreadWriter | ProcessWriter] = ThreadWriter if spec.kind == "file" else ProcessWriter
        writer: Callable[..., Writer] = functools.partial(
            kind,
            session_id=spec.session_id,
            destination_id=spec.destination_id,
            kind=spec.kind,
            language=spec.language,
            samples=samples,
            settings=settings,
            request_keyframe=request_keyframe,
            emit=emit,
        )
        backup: IngestTarget | None = spec.backup if spec.kind != "file" else None
        if backup is None:
            self.writers = [writer(label=label, targets=[spec.primary])]
        elif spec.redundancy == "failover":
            self.writers = [writer(label=label, targets=[spec.primary, backup])]
        else:  # "both": two independent publishes
            self.writers = [
                writer(label=label, targets=[spec.primary]),
                writer(label=f"{label}/backup", targets=[backup]),
            ]

    @property
    def language(self) -> str:
        return self.spec.language

    def feed(self, packets: list[EncodedPacket]) -> None:
        """One frame's packets (its video, and audio in this destination's language)."""
        for writer in self.writers:
            writer.feed(packets)

    @property
    def cpu_s(self) -> float:
        return sum(w.cpu_s for w in self.writers)

    def close(self) -> OutputReport:
        reports = [w.close() for w in self.writers]
        return OutputReport(
            destination_id=self.spec.destination_id,
            session_id=self.spec.session_id,
            target=" + ".join(r.target for r in reports),
            frames=reports[0].frames,
            bytes=sum(r.bytes for r in reports),
            errors=[e for r in reports for e in r.errors],
        )
