"""RTMP outputs against a real nginx-rtmp on loopback, read back with PyAV: what a viewer gets,
primary and backup ingest, and a server restart in the middle of a session."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import av.error
import numpy as np
import pytest
from media_clips import dominant_hz
from media_helpers import RED, T, clip_cue, compressed_clock, decode, floor, is_colour, programme, tone
from pydantic import SecretStr

from orchestrator.engine.ports import IngestTarget, OutputSpec
from orchestrator.media import AvMediaPlane, MediaSettings, probe
from orchestrator.standins import nginx as rtmp_module
from orchestrator.standins.nginx import RtmpServer

pytestmark = pytest.mark.slow
FPS = 30


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RtmpServer]:
    srv = RtmpServer(record_dir=tmp_path / "recorded")
    await srv.start()
    yield srv
    await srv.stop()


def rtmp_output(
    dest: str, lang: str, primary: str, key: str, backup: str | None = None, redundancy: str = "both"
) -> OutputSpec:
    return OutputSpec(
        dest,
        "s1",
        lang,
        "rtmp",
        IngestTarget(primary, SecretStr(key)),
        IngestTarget(backup, SecretStr(key)) if backup else None,
        redundancy,
    )


@dataclass
class Viewer:
    """Plays a stream from nginx on a thread, as a viewer would (started before the publisher)."""

    url: str
    seconds: float
    codecs: tuple[str, str] | None = None
    size: tuple[int, int] | None = None
    colours: list[tuple[float, float, float]] = field(default_factory=list)
    audio: list[np.ndarray] = field(default_factory=list)
    error: str | None = None

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        try:
            with av.open(self.url, "r", timeout=(20, 10)) as c:
                v, a = c.streams.video[0], c.streams.audio[0]
                self.codecs = (v.codec_context.name, a.codec_context.name)
                self.size = (v.codec_context.width, v.codec_context.height)
                first: float | None = None
                for packet in c.demux(v, a):
                    for frame in packet.decode():
                        if isinstance(frame, av.VideoFrame):
                            rgb = frame.to_ndarray(format="rgb24")[90:270:4, 160:480:4].reshape(-1, 3).mean(axis=0)
                            self.colours.append(tuple(float(x) for x in rgb))  # type: ignore[arg-type]
                        else:
                            self.audio.append(frame.to_ndarray()[0])
                        first = frame.time if first is None else first
                        if frame.time is not None and first is not None and frame.time - first > self.seconds:
                            return
        except (av.error.ExitError, av.error.EOFError):
            pass
        except Exception as exc:
            self.error = repr(exc)


async def wait_frames(media: AvMediaPlane, frames: int) -> None:
    pipeline = media.programme("s1")
    while pipeline.stats.frames < frames:
        assert pipeline.error is None, pipeline.error
        assert pipeline.running, f"the programme stopped after {pipeline.stats.frames} of {frames} frames"
        await asyncio.sleep(0.05)


async def test_two_languages_pushed_to_nginx(server: RtmpServer, tmp_path: Path, red_clip: Path) -> None:
    clock = compressed_clock(speed=60, lead_s=1.0)
    cue = clip_cue("c1", T, red_clip, {"ko": floor(), "en": tone(1000)})
    viewers = {lang: Viewer(f"{server.url}/{lang}-stream-key", seconds=3.0) for lang in ("ko", "en")}
    threads = [v.start() for v in viewers.values()]
    await asyncio.sleep(0.5)  # the viewers wait at nginx for the publisher
    media = AvMediaPlane(clock, MediaSettings())
    await media.prepare(programme(cue))
    media.arm("s1", cue)
    for lang in ("ko", "en"):
        await media.attach_output(rtmp_output(f"{lang}-live", lang, server.url, f"{lang}-stream-key"))
    await media.start("s1")
    streams = await server.streams()
    while len(streams) < 2:
        streams = await server.streams()
        await asyncio.sleep(0.1)
    await wait_frames(media, 6 * FPS)
    await asyncio.gather(*(asyncio.to_thread(t.join, 20) for t in threads))
    reports = await media.stop("s1")

    assert all(not r.errors for r in reports), reports
    assert all("stream-key" not in r.target for r in reports)  # the key never shows
    for v in viewers.values():
        assert v.error is None, v.error
        assert v.codecs == ("h264", "aac") and v.size == (640, 360)
        assert len(v.colours) >= 60 and any(is_colour(c, RED) for c in v.colours)
    # After the cut, Korean viewers hear the floor (300 Hz) and English viewers the booth (1000 Hz).
    ko = np.concatenate(viewers["ko"].audio)[-48_000:]
    en = np.concatenate(viewers["en"].audio)[-48_000:]
    assert dominant_hz(ko) == pytest.approx(300, abs=5)
    assert dominant_hz(en) == pytest.approx(1000, abs=5)

    # What nginx received, frame by frame: the cut on the frame the cue names, 2-second GOPs.
    (applied,) = media.applied_cues()
    recordings = {p.name.split("-stream")[0]: p for p in (tmp_path / "recorded").rglob("*.flv")}
    for lang in ("ko", "en"):
        info = probe(str(recordings[lang]))
        assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
        assert set(info["keyframe_intervals"]) == {60} and info["monotonic"]
        d = decode(recordings[lang])
        assert not is_colour(d.colours[applied.frame_index - 1], RED)
        assert is_colour(d.colours[applied.frame_index], RED)


async def test_push_both_primary_and_backup(server: RtmpServer) -> None:
    media = AvMediaPlane(compressed_clock(speed=60), MediaSettings())
    await media.prepare(programme())
    await media.attach_output(rtmp_output("yt", "en", server.url, "yt-key-123", backup=server.backup_url))
    await media.start("s1")
    await server.wait_for_publisher("yt-key-123", timeout=10)
    await server.wait_for_publisher("yt-key-123", app=server.backup_app, timeout=10)
    (report,) = await media.stop("s1")
    assert report.errors == [] and report.frames > 0
    assert " + " in report.target and "yt-key-123" not in report.target


async def test_failover_to_backup_when_primary_is_down(server: RtmpServer) -> None:
    dead = f"rtmp://127.0.0.1:{rtmp_module.free_port()}/live"  # nothing listens there
    media = AvMediaPlane(compressed_clock(speed=60), MediaSettings(reconnect_initial_s=0.2))
    await media.prepare(programme())
    await media.attach_output(
        rtmp_output("fb", "en", dead, "fb-key-456", backup=server.backup_url, redundancy="failover")
    )
    await media.start("s1")
    await server.wait_for_publisher("fb-key-456", app=server.backup_app, timeout=10)
    (report,) = await media.stop("s1")
    assert any("cannot open" in e for e in report.errors)
    assert "fb-key-456" not in " ".join(report.errors)


async def test_stream_survives_a_server_restart(
    server: RtmpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = AvMediaPlane(compressed_clock(speed=60), MediaSettings(reconnect_initial_s=0.25))
    await media.prepare(programme())
    await media.attach_output(rtmp_output("live", "ko", server.url, "restart-key"))
    await media.attach_output(OutputSpec("rec", "s1", "ko", "file", IngestTarget(str(tmp_path / "rec.flv"))))
    await media.start("s1")
    await server.wait_for_publisher("restart-key", timeout=10)
    await asyncio.sleep(1.5)

    # The same server comes back on the same port (as a restarted ingest would).
    ports = iter([server.port, server.http_port])
    monkeypatch.setattr(rtmp_module, "free_port", lambda host="127.0.0.1": next(ports))
    await server.stop()
    await asyncio.sleep(1.0)
    await server.start()
    # How soon it republishes is a timing: scripts/bench/pacing.py (`republish_s`).
    stream = await server.wait_for_publisher("restart-key", timeout=15)
    pipeline = media.programme("s1")
    await wait_frames(media, pipeline.stats.frames + 3 * FPS)  # three seconds of programme after it
    reports = {r.destination_id: r for r in await media.stop("s1")}

    assert stream.video_codec == "H264" or stream.video_codec is None
    writer = reports["live"]
    assert any("write failed" in e or "cannot open" in e for e in writer.errors)
    # The recording next to it never noticed: every frame, evenly spaced, decodable throughout.
    rec = probe(str(tmp_path / "rec.flv"))
    assert reports["rec"].errors == []
    assert rec["video_frames"] == pipeline.stats.frames and rec["monotonic"]
    assert max(rec["keyframe_intervals"]) <= 60
    # What nginx recorded after the restart starts on a keyframe and decodes.
    after = max((tmp_path / "recorded").rglob("restart-key*.flv"), key=lambda p: p.stat().st_mtime)
    again = decode(after)
    assert again.keyframes[0] == 0 and len(again.colours) >= 30


async def test_an_ingest_that_never_answers_does_not_stall_the_programme(tmp_path: Path) -> None:
    # A server that accepts the TCP connection and then says nothing: the RTMP handshake hangs.
    # libavformat holds the GIL while it connects, so this would freeze an in-process programme.
    silent_peers: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent_peers.append(writer)

    silent = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    media = AvMediaPlane(compressed_clock(speed=60), MediaSettings(output_queue_s=2.0))
    await media.prepare(programme())
    await media.attach_output(rtmp_output("stuck", "ko", f"rtmp://127.0.0.1:{port}/live", "stuck-key"))
    await media.attach_output(OutputSpec("rec", "s1", "ko", "file", IngestTarget(str(tmp_path / "rec.flv"))))
    await media.start("s1")
    pipeline = media.programme("s1")
    # The hung publisher is found out after 2 s and replaced: wait for its replacement to connect
    # (and hang) too, then for another second of programme.
    while len(silent_peers) < 2:
        assert pipeline.error is None and pipeline.running, pipeline.error
        await asyncio.sleep(0.05)
    await wait_frames(media, pipeline.stats.frames + FPS)
    reports = {r.destination_id: r for r in await media.stop("s1")}
    silent.close()
    for w in silent_peers:
        w.close()
    # The programme went on making frames while the ingest hung (whether it kept its pace is a
    # timing: scripts/bench/pacing.py, `stuck_ingest_rate_error`): the recording beside it has
    # every frame.
    assert pipeline.error is None
    assert reports["rec"].errors == []
    assert reports["rec"].frames == probe(str(tmp_path / "rec.flv"))["video_frames"] == pipeline.stats.frames
    # The hung publisher was found out after 2 s, killed and replaced; the new one tried again.
    stuck = reports["stuck"]
    assert stuck.frames == 0
    assert any("stuck for 2 s" in e for e in stuck.errors), stuck.errors
    assert any("starting another" in e for e in stuck.errors), stuck.errors
    assert len(silent_peers) >= 2
    assert "stuck-key" not in " ".join(stuck.errors)


async def test_a_network_output_counts_what_its_publisher_acknowledged(server: RtmpServer, tmp_path: Path) -> None:
    """/metrics' bitrate of a network output: the bytes its publisher process wrote to nginx."""
    media = AvMediaPlane(compressed_clock(speed=60), MediaSettings())
    await media.prepare(programme())
    await media.attach_output(rtmp_output("live", "ko", server.url, "stats-key"))
    await media.attach_output(OutputSpec("rec", "s1", "ko", "file", IngestTarget(str(tmp_path / "rec.flv"))))
    await media.start("s1")
    await server.wait_for_publisher("stats-key", timeout=10)
    await wait_frames(media, media.programme("s1").stats.frames + 2 * FPS)
    stats = {s.destination_id: s for s in media.output_stats("s1")}
    reports = {r.destination_id: r for r in await media.stop("s1")}
    live = stats["live"].bytes
    assert live is not None and live > 0
    assert live <= reports["live"].bytes  # acknowledged while running ≤ what the publisher wrote in all
    assert stats["rec"].bytes is not None and stats["rec"].bytes > 0
