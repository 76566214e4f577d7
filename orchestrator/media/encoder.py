"""Encode once: one H.264 encode per session and one AAC encode per language, producing packets
that any number of outputs copy.

Output streams are made the way `ffmpeg -c copy` makes them: from a demuxed sample of our own
elementary stream (`StreamSample`). PyAV's `add_stream_from_template(encoder_stream, opaque=True)`
re-opens a second libx264 with default options on every output, whose SPS does not match what we
encode (measured: different bytes) — so we never hand an encoder stream to an output container."""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from av.audio.codeccontext import AudioCodecContext
from av.audio.frame import AudioFrame
from av.codec.context import CodecContext, Flags
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.codeccontext import VideoCodecContext
from av.video.frame import PictureType, VideoFrame

from orchestrator.media.frames import Audio, AudioBuffer, silence
from orchestrator.media.settings import AUDIO_RATE, MediaSettings

AAC_FRAME = 1024


@dataclass(frozen=True)
class EncodedPacket:
    """One encoded packet, as plain bytes so every output thread can wrap its own copy."""

    kind: str  # "video" | "audio"
    data: bytes
    pts: int
    dts: int
    time_base: Fraction
    keyframe: bool

    def to_av(self, stream: Stream, offset: int) -> Packet:
        packet = Packet(self.data)
        packet.pts = self.pts - offset
        packet.dts = self.dts - offset
        packet.time_base = self.time_base
        packet.is_keyframe = self.keyframe
        packet.stream = stream
        return packet


@dataclass(frozen=True)
class StreamSample:
    """Enough of an elementary stream for FFmpeg's demuxer to describe it, plus its global header."""

    format: str  # the raw demuxer that reads `data`: "h264" (Annex B) or "aac" (ADTS)
    data: bytes
    extradata: bytes

    def add_to(self, container: OutputContainer) -> Stream:
        """Add a stream that carries copies of this elementary stream's packets."""
        template = av.open(io.BytesIO(self.data), "r", format=self.format)
        try:
            stream = container.add_stream_from_template(template.streams[0], opaque=True)
        finally:
            template.close()
        # The demuxed template may rebuild its header slightly differently; the encoder's own is
        # what the packets need.
        stream.codec_context.extradata = self.extradata
        return stream


def _adts(payload: bytes, sample_rate: int, channels: int) -> bytes:
    """An ADTS header (AAC-LC, no CRC) in front of one raw AAC frame."""
    rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]
    sf = rates.index(sample_rate)
    n = len(payload) + 7
    header = bytes(
        [
            0xFF,
            0xF1,
            (1 << 6) | (sf << 2) | (channels >> 2),
            ((channels & 3) << 6) | (n >> 11),
            (n >> 3) & 0xFF,
            ((n & 7) << 5) | 0x1F,
            0xFC,
        ]
    )
    return header + payload


class VideoEncoder:
    """libx264 at the rendition: 30 fps CFR, a keyframe every `gop` frames and whenever an output
    needs one, no B-frames, no scene-cut keyframes, a capped bitrate."""

    def __init__(self, settings: MediaSettings) -> None:
        ctx: VideoCodecContext = CodecContext.create("libx264", "w")
        ctx.width = settings.width
        ctx.height = settings.height
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = Fraction(1, settings.fps)
        ctx.framerate = Fraction(settings.fps, 1)
        ctx.bit_rate = settings.video_bitrate
        ctx.gop_size = settings.gop
        ctx.max_b_frames = 0
        ctx.flags |= Flags.global_header  # SPS/PPS once in extradata: FLV sends them as a sequence header
        ctx.options = {
            "preset": settings.preset,
            "tune": "zerolatency",
            "sc_threshold": "0",
            "forced-idr": "1",  # a keyframe forced for a joining output must be an IDR
            "maxrate": str(settings.video_bitrate),
            "bufsize": str(settings.video_bitrate * 2),
        }
        ctx.open()
        self._ctx = ctx
        self._gop = settings.gop
        self.sample: StreamSample | None = None  # set with the first keyframe

    def encode(self, frame: VideoFrame, index: int, force_keyframe: bool = False) -> list[EncodedPacket]:
        frame.pts = index
        frame.time_base = self._ctx.time_base
        # Every GOP boundary is forced too, so that one extra keyframe (an output joining) shifts
        # the 2-second cadence for one GOP only.
        key = force_keyframe or index % self._gop == 0
        frame.pict_type = PictureType.I if key else PictureType.NONE
        return self._wrap(self._ctx.encode(frame))

    def flush(self) -> list[EncodedPacket]:
        return self._wrap(self._ctx.encode(None))

    def _wrap(self, packets: list[Packet]) -> list[EncodedPacket]:
        out = [
            EncodedPacket(
                "video",
                bytes(p),
                p.pts or 0,
                p.dts if p.dts is not None else (p.pts or 0),
                self._ctx.time_base,
                p.is_keyframe,
            )
            for p in packets
        ]
        if self.sample is None:
            for p in out:
                if p.keyframe:
                    self.sample = StreamSample(
                        "h264", (self._ctx.extradata or b"") + p.data, self._ctx.extradata or b""
                    )
                    break
        return out


def _aac_context(bit_rate: int) -> AudioCodecContext:
    ctx: AudioCodecContext = CodecContext.create("aac", "w")
    ctx.sample_rate = AUDIO_RATE
    ctx.layout = "stereo"
    ctx.format = "fltp"
    ctx.bit_rate = bit_rate
    ctx.time_base = Fraction(1, AUDIO_RATE)
    ctx.flags |= Flags.global_header
    ctx.open()
    return ctx


class AudioEncoder:
    """AAC-LC stereo 48 kHz for one language; takes any number of samples, encodes 1024 at a time.
    Timestamps count samples from the programme's start (the encoder's priming makes the first
    packet's pts −1024)."""

    def __init__(self, settings: MediaSettings) -> None:
        self._ctx = _aac_context(settings.audio_bitrate)
        self._pending = AudioBuffer()
        self._samples = 0  # samples handed to the encoder so far
        self.time_base = Fraction(1, AUDIO_RATE)
        self.sample = self._make_sample(settings.audio_bitrate)

    def _make_sample(self, bit_rate: int) -> StreamSample:
        # A throwaway encoder with the same parameters gives a packet to describe the stream
        # before the real one has produced any (its global header is the same).
        probe = _aac_context(bit_rate)
        packets: list[Packet] = []
        for i in range(3):
            packets += probe.encode(self._frame(silence(AAC_FRAME), i * AAC_FRAME))
        payload = bytes(packets[0])
        return StreamSample("aac", _adts(payload, AUDIO_RATE, 2), self._ctx.extradata or b"")

    @staticmethod
    def _frame(chunk: Audio, pts: int) -> AudioFrame:
        frame = AudioFrame.from_ndarray(np.ascontiguousarray(chunk, dtype=np.float32), format="fltp", layout="stereo")
        frame.sample_rate = AUDIO_RATE
        frame.pts = pts
        frame.time_base = Fraction(1, AUDIO_RATE)
        return frame

    def encode(self, chunk: Audio) -> list[EncodedPacket]:
        self._pending.push(np.clip(chunk, -1.0, 1.0))
        packets: list[Packet] = []
        while len(self._pending) >= AAC_FRAME:
            packets += self._ctx.encode(self._frame(self._pending.pop(AAC_FRAME), self._samples))
            self._samples += AAC_FRAME
        return self._wrap(packets)

    def skip(self, samples: int) -> None:
        """Leave a gap of `samples` in the timeline (frames the pipeline skipped)."""
        self._samples += samples

    def flush(self) -> list[EncodedPacket]:
        packets: list[Packet] = []
        if len(self._pending):
            packets += self._ctx.encode(self._frame(self._pending.pop(AAC_FRAME), self._samples))
        packets += self._ctx.encode(None)
        return self._wrap(packets)

    def _wrap(self, packets: list[Packet]) -> list[EncodedPacket]:
        return [
            EncodedPacket(
                "audio", bytes(p), p.pts or 0, p.dts if p.dts is not None else (p.pts or 0), self.time_base, True
            )
            for p in packets
        ]
