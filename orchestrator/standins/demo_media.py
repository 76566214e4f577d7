"""Demo media for the pre-recorded segments of a schedule: one short-to-encode mp4 per missing clip.

No binary media is committed; `ensure_demo_clips(schedule, media_dir)` writes, for every clip a schedule
declares that is missing under `media_dir` (or is one of our demo clips with the wrong length), an
H.264 + AAC mp4 of exactly the declared duration. The picture is a card naming the speaker, their city
and the clip's title, with a running timecode; the sound is a voice-like tone pattern whose pitch and
rhythm depend on the clip's language (Korean higher and syllable-timed, English lower and stress-timed),
so a listener — or a test — can tell which language programme they are hearing.

The format is deliberately *not* the programme's (320x180, 15 fps, mono 44.1 kHz) so that the
programme's scaling, frame-rate conversion and resampling are exercised by every rehearsal.

Hours of demo media must be made in seconds, so the encoder does as little as possible:
- only the timecode changes, once a second: each second is one IDR picture followed by P frames that
  repeat it. Encoded much coarser than the IDR picture, those P frames are pure skips, the same bytes
  every second; the first two seconds are encoded in full and checked (same bytes, and each P frame
  decodes to exactly its IDR picture), then only the IDR pictures are encoded and the P frames copied.
  If the check fails (another x264), every frame is encoded: slower, never wrong;
- the audio pattern repeats with a period of a whole number of AAC frames and ends in silence, so
  one period is encoded (after a warm-up) and its packets are re-timed and reused; the last part is
  encoded for real so that the file ends exactly on the declared duration.
"""

from __future__ import annotations

import math
import os
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np
import structlog
from av.audio.codeccontext import AudioCodecContext
from av.video.frame import PictureType
from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:  # the schedule model is only read
    from orchestrator.schedule.model import Clip, Schedule

log = structlog.get_logger(__name__)

DEMO_TAG = "summit-orchestrator demo clip"
"""Written to the mp4's `comment` tag. A readable file of the wrong length is replaced only if it
carries this tag (real media someone put in the folder is never overwritten)."""

DURATION_TOLERANCE_S = 0.1
"""An existing file within this many seconds of the declared duration is kept."""


@dataclass(frozen=True)
class DemoFormat:
    width: int = 320
    height: int = 180
    fps: int = 15
    sample_rate: int = 44100
    layout: str = "mono"
    qp: int = 36  # P frames; IDR pictures get qp − 6·log2(ip_ratio) = 24
    ip_ratio: float = 4.0
    audio_bit_rate: int = 64000
    audio_period_frames: int = 172  # AAC frames of 1024 samples per repetition of the voice pattern (~4 s)


DEMO_FORMAT = DemoFormat()


@dataclass(frozen=True)
class CardInfo:
    """What the card of one clip shows."""

    clip_id: str
    title: str
    language: str
    name: str | None = None
    name_local: str | None = None
    role: str | None = None
    place: str | None = None
    event: str | None = None


@dataclass(frozen=True)
class DemoJob:
    path: Path
    duration_s: float
    card: CardInfo


# ---------------------------------------------------------------------------------------------
# What to make


def card_for_clip(schedule: Schedule, clip: Clip) -> CardInfo:
    """The speaker of a clip is whoever names it as their clip or backup, else a clip segment's speaker."""
    speaker = next((s for s in schedule.speakers if clip.id in (s.clip, s.backup_clip)), None)
    if speaker is None:
        sid = next(
            (
                seg.speaker
                for session in schedule.sessions
                for seg in session.rundown
                if seg.kind == "clip" and seg.clip == clip.id and seg.speaker
            ),
            None,
        )
        speaker = next((s for s in schedule.speakers if s.id == sid), None) if sid else None
    language = clip.language or (speaker.languages[0] if speaker else None) or "en"
    place = None
    if speaker is not None:
        place = ", ".join(p for p in (speaker.city, speaker.country) if p) or None
    title = clip.title or clip.id
    if speaker is not None and speaker.backup_clip == clip.id and speaker.clip != clip.id:
        title = f"{title} (backup)" if "backup" not in title.lower() else title
    return CardInfo(
        clip_id=clip.id,
        title=title,
        language=language,
        name=speaker.name if speaker else None,
        name_local=speaker.name_local if speaker else None,
        role=speaker.role if speaker else None,
        place=place,
        event=schedule.event.name.get(language, "en"),
    )


def plan_demo_clips(schedule: Schedule, media_dir: Path) -> list[DemoJob]:
    """Every clip of the schedule as a job (whether or not its file exists), one per distinct path."""
    root = Path(media_dir).resolve()
    jobs: dict[Path, DemoJob] = {}
    for clip in schedule.clips:
        path = (root / clip.path).resolve()
        if not path.is_relative_to(root):
            raise ValueError(f"clip '{clip.id}': path '{clip.path}' is outside the media folder {root}")
        duration = clip.duration.total_seconds()
        job = DemoJob(path, duration, card_for_clip(schedule, clip))
        other = jobs.get(path)
        if other is not None and abs(other.duration_s - duration) > DURATION_TOLERANCE_S:
            raise ValueError(
                f"clips '{other.card.clip_id}' and '{clip.id}' share the path '{clip.path}' "
                f"but last {other.duration_s:g} s and {duration:g} s"
            )
        jobs.setdefault(path, job)
    return list(jobs.values())


def probe_clip(path: Path) -> tuple[float | None, bool]:
    """(duration in seconds or None if unreadable, whether the file is one of our demo clips)."""
    try:
        with av.open(str(path)) as c:
            ours = c.metadata.get("comment") == DEMO_TAG
            if c.duration is not None:
                return c.duration / av.time_base, ours
            ends = [float(s.duration * s.time_base) for s in c.streams if s.duration is not None and s.time_base]
            return (max(ends) if ends else None), ours
    except (av.FFmpegError, OSError):
        return None, False


def ensure_demo_clips(
    schedule: Schedule, media_dir: Path, *, jobs: int | None = None, fmt: DemoFormat = DEMO_FORMAT
) -> list[Path]:
    """Make every missing clip of `schedule` under `media_dir`; return the files created.

    A file that exists with the declared duration (±0.1 s) is kept. A file with another duration is
    replaced if it is one of our demo clips; anything else (real media someone put there) is left
    alone with a warning. `jobs` is the number of processes (default: the CPU count).
    """
    todo: list[DemoJob] = []
    for job in plan_demo_clips(schedule, Path(media_dir)):
        if not job.path.exists():
            todo.append(job)
            continue
        duration, ours = probe_clip(job.path)
        if duration is not None and abs(duration - job.duration_s) <= DURATION_TOLERANCE_S:
            continue
        if duration is not None and not ours:
            log.warning(
                "demo_clip_kept_foreign_file",
                clip=job.card.clip_id,
                path=str(job.path),
                duration_s=round(duration, 3),
                declared_s=job.duration_s,
            )
            continue
        todo.append(job)
    if not todo:
        return []

    created: list[Path] = []
    workers = max(1, min(jobs or _usable_cpus(), len(todo)))
    if workers == 1:
        for job in todo:
            created.append(_report(job, _make(job, fmt)))
        return created
    # Longest first so that the pool ends together; spawn, not fork: the caller may run threads.
    todo.sort(key=lambda j: -j.duration_s)
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [(job, pool.submit(_make, job, fmt)) for job in todo]
        for job, fut in futures:
            created.append(_report(job, fut.result()))
    return created


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _report(job: DemoJob, seconds: float) -> Path:
    log.info(
        "demo_clip_created",
        clip=job.card.clip_id,
        path=str(job.path),
        duration_s=job.duration_s,
        language=job.card.language,
        encode_s=round(seconds, 3),
    )
    return job.path


def _make(job: DemoJob, fmt: DemoFormat) -> float:
    t0 = time.perf_counter()
    job.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = job.path.with_name(f".{job.path.name}.{os.getpid()}.partial")
    try:
        write_demo_clip(tmp, job.card, job.duration_s, fmt)
        os.replace(tmp, job.path)
    finally:
        tmp.unlink(missing_ok=True)
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# The picture

_FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/noto-cjk", "/usr/share/fonts/google-noto-cjk")
_TTC_KR = 1  # Noto Sans CJK .ttc faces: JP, KR, SC, TC, HK, then the Mono ones
_TTC_MONO_KR = 6

_BACKGROUND = {"ko": (24, 42, 96), "en": (18, 84, 66)}


@lru_cache(maxsize=64)
def _font(size: int, bold: bool = False, mono: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    names = ["NotoSansCJK-Bold.ttc" if bold else "NotoSansCJK-Regular.ttc", "NotoSansCJK-Regular.ttc"]
    for d in _FONT_DIRS:
        for name in names:
            p = Path(d, name)
            if p.exists():
                try:
                    return ImageFont.truetype(str(p), size, index=_TTC_MONO_KR if mono else _TTC_KR)
                except OSError:
                    return ImageFont.truetype(str(p), size, index=_TTC_KR)
    dejavu = "/usr/share/fonts/truetype/dejavu/" + ("DejaVuSansMono.ttf" if mono else "DejaVuSans.ttf")
    if Path(dejavu).exists():
        return ImageFont.truetype(dejavu, size)
    return ImageFont.load_default(size)


def _fit(
    draw: ImageDraw.ImageDraw, text: str, width: int, size: int, bold: bool = False, min_size: int = 9
) -> tuple[str, ImageFont.FreeTypeFont | ImageFont.ImageFont]:
    """The largest font (down to min_size) in which `text` fits `width`, else the text cut with an ellipsis."""
    for s in range(size, min_size - 1, -1):
        font = _font(s, bold)
        if draw.textlength(text, font=font) <= width:
            return text, font
    font = _font(min_size, bold)
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…", font


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, width: int, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, lines: int
) -> list[str]:
    words, out, cur = text.split(), [], ""
    for w in words:
        trial = f"{cur} {w}".strip()
        if draw.textlength(trial, font=font) <= width or not cur:
            cur = trial
        else:
            out.append(cur)
            cur = w
    if cur:
        out.append(cur)
    if len(out) > lines:
        last = " ".join(out[lines - 1 :])
        while last and draw.textlength(last + "…", font=font) > width:
            last = last[:-1]
        out = [*out[: lines - 1], last + "…"]
    return out


def _fmt_tc(seconds: int) -> str:
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"


@dataclass
class _CardPainter:
    """The static card as a yuv420p array, plus the timecode digits ready to paste."""

    base: np.ndarray  # (h*3/2, w) uint8, yuv420p planes stacked as PyAV expects
    glyphs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # char → (Y, U, V) blocks
    origin: tuple[int, int]  # top-left (x, y) of the timecode, both even
    cell: tuple[int, int]  # (w, h) of one character cell, both even
    width: int
    height: int

    def frame(self, seconds: int) -> av.VideoFrame:
        arr = self.base.copy()
        w, h = self.width, self.height
        y_plane = arr[:h]
        u_plane = arr[h : h + h // 4].reshape(h // 2, w // 2)
        v_plane = arr[h + h // 4 :].reshape(h // 2, w // 2)
        x, y = self.origin
        cw, ch = self.cell
        for i, c in enumerate(_fmt_tc(seconds)):
            gy, gu, gv = self.glyphs[c]
            xi = x + i * cw
            y_plane[y : y + ch, xi : xi + cw] = gy
            u_plane[y // 2 : (y + ch) // 2, xi // 2 : (xi + cw) // 2] = gu
            v_plane[y // 2 : (y + ch) // 2, xi // 2 : (xi + cw) // 2] = gv
        return av.VideoFrame.from_ndarray(arr, format="yuv420p")


def _to_yuv420p(img: Image.Image) -> np.ndarray:
    frame = av.VideoFrame.from_image(img.convert("RGB"))  # type: ignore[no-untyped-call]  # PyAV's stub leaves it untyped
    planes: np.ndarray = frame.reformat(format="yuv420p").to_ndarray()
    return planes


def _planes(arr: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        arr[:h],
        arr[h : h + h // 4].reshape(h // 2, w // 2),
        arr[h + h // 4 :].reshape(h // 2, w // 2),
    )


def render_card(card: CardInfo, duration_s: float, fmt: DemoFormat = DEMO_FORMAT) -> tuple[Image.Image, _CardPainter]:
    """The card as an RGB image (timecode at zero) and the painter that stamps each second's timecode."""
    W, H = fmt.width, fmt.height
    k = W / 320  # sizes below are for 320x180
    bg = _BACKGROUND.get(card.language, (70, 50, 90))
    img = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(img)
    pad = int(10 * k)
    inner = W - 2 * pad

    # Top band: what this is.
    band = int(20 * k)
    d.rectangle((0, 0, W, band), fill=tuple(max(0, c - 14) for c in bg))
    head, font = _fit(
        d, f"DEMO CLIP · {card.language.upper()}" + (f" · {card.event}" if card.event else ""), inner, int(11 * k)
    )
    d.text((pad, band // 2), head, font=font, fill=(210, 220, 235), anchor="lm")

    y = band + int(6 * k)
    if card.name:
        text, font = _fit(d, card.name, inner, int(20 * k), bold=True, min_size=int(11 * k))
        d.text((pad, y), text, font=font, fill=(255, 255, 255))
        y += int(25 * k)
        if card.name_local and card.name_local != card.name:
            text, font = _fit(d, card.name_local, inner, int(15 * k), min_size=int(10 * k))
            d.text((pad, y), text, font=font, fill=(235, 235, 210))
            y += int(19 * k)
        who = " · ".join(p for p in (card.role, card.place) if p)
        if who:
            text, font = _fit(d, who, inner, int(12 * k), min_size=int(9 * k))
            d.text((pad, y), text, font=font, fill=(200, 215, 230))
            y += int(17 * k)
    font = _font(int(12 * k))
    for line in _wrap(d, card.title, inner, font, 2 if card.name else 4):
        d.text((pad, y), line, font=font, fill=(250, 220, 120))
        y += int(15 * k)

    # Bottom band: timecode / total, and the language in large letters.
    tc_font = _font(int(16 * k), mono=True)
    chars = "0123456789:"
    cw = max(math.ceil(d.textlength(c, font=tc_font)) for c in chars)
    cw += cw % 2
    ch = int(20 * k)
    ch += ch % 2
    bottom = H - ch - int(8 * k)
    bottom -= bottom % 2
    band_bg = tuple(max(0, c - 14) for c in bg)
    d.rectangle((0, bottom - int(4 * k), W, H), fill=band_bg)
    x0 = pad - pad % 2
    total = f"/ {_fmt_tc(math.ceil(duration_s))}"
    d.text((x0 + 8 * cw + int(6 * k), bottom + ch // 2), total, font=tc_font, fill=(170, 185, 200), anchor="lm")
    lang_text, lang_font = card.language.upper(), _font(int(18 * k), bold=True)
    d.text((W - pad, bottom + ch // 2), lang_text, font=lang_font, fill=(255, 255, 255), anchor="rm")

    # Each glyph drawn in its cell on the band's colour, converted once to YUV.
    strip = Image.new("RGB", (cw * len(chars), ch), band_bg)
    sd = ImageDraw.Draw(strip)
    for i, c in enumerate(chars):
        sd.text((i * cw + cw // 2, ch // 2), c, font=tc_font, fill=(255, 255, 255), anchor="mm")
    sy, su, sv = _planes(_to_yuv420p(strip), strip.width, ch)
    glyphs = {
        c: (
            sy[:, i * cw : (i + 1) * cw].copy(),
            su[:, i * cw // 2 : (i + 1) * cw // 2].copy(),
            sv[:, i * cw // 2 : (i + 1) * cw // 2].copy(),
        )
        for i, c in enumerate(chars)
    }
    painter = _CardPainter(_to_yuv420p(img), glyphs, (x0, bottom), (cw, ch), W, H)
    # The preview image shows the timecode at zero, like the first frame.
    preview = Image.fromarray(painter.frame(0).to_ndarray(format="rgb24"))
    return preview, painter


# ---------------------------------------------------------------------------------------------
# The sound

_VOWELS = ((800, 1200), (300, 2300), (350, 800), (500, 1800), (500, 900))  # a i u e o: (F1, F2) Hz


@dataclass(frozen=True)
class VoiceStyle:
    base_hz: float
    syllables: tuple[tuple[float, float], ...]  # (length s, gap after s), one phrase
    final: float  # pitch movement over the phrase's last syllable (+ rises, − falls)


def voice_style(language: str) -> VoiceStyle:
    """Korean: higher voice, even syllables, a rise at the phrase end. English: lower, long stressed
    and short unstressed syllables, falling. Other languages: a pitch derived from the code."""
    if language == "ko":
        return VoiceStyle(215.0, tuple((0.17, 0.05) for _ in range(12)), +0.25)
    if language == "en":
        pattern = ((0.30, 0.06), (0.12, 0.03), (0.12, 0.08), (0.32, 0.05), (0.13, 0.03))
        return VoiceStyle(118.0, pattern * 2 + ((0.34, 0.0),), -0.25)
    crc = zlib.crc32(language.encode())
    return VoiceStyle(140.0 + crc % 90, tuple((0.14 + (crc >> i) % 5 * 0.03, 0.05) for i in range(10)), 0.0)


def voice_pattern(language: str, rate: int, period: int) -> np.ndarray:
    """One period (`period` samples, float32 in −0.5…0.5) of a voice-like phrase then silence.

    The period ends in silence, so repeating it has no seam."""
    style = voice_style(language)
    rng = np.random.default_rng(zlib.crc32(language.encode()))
    out = np.zeros(period, dtype=np.float64)
    t = int(0.12 * rate)
    n_syll = len(style.syllables)
    for k, (length, gap) in enumerate(style.syllables):
        n = int(length * rate)
        if t + n > period - int(0.4 * rate):
            break
        u = np.linspace(0.0, 1.0, n, endpoint=False)
        declination = 1.0 - 0.12 * k / n_syll
        f0 = style.base_hz * declination * (1.0 + 0.06 * rng.standard_normal())
        contour = f0 * (1.0 + (style.final if k == n_syll - 1 else 0.04 * rng.standard_normal()) * u)
        phase = 2 * np.pi * np.cumsum(contour) / rate
        f1, f2 = _VOWELS[rng.integers(len(_VOWELS))]
        wave = np.zeros(n)
        for h in range(1, 12):
            fh = h * f0
            if fh > rate / 2 - 500:
                break
            gain = np.exp(-(((fh - f1) / 180.0) ** 2)) + 0.6 * np.exp(-(((fh - f2) / 250.0) ** 2)) + 0.25 / h
            wave += gain * np.sin(h * phase)
        envelope = np.sin(np.pi * u) ** 2
        out[t : t + n] += wave * envelope
        t += n + int(gap * rate)
    peak = np.max(np.abs(out)) or 1.0
    return (0.5 * out / peak).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# The file


@dataclass(frozen=True)
class _Pkt:
    pts: int
    duration: int
    data: bytes


def _audio_frames(
    period: np.ndarray, start: int, stop: int, rate: int, layout: str, origin: int | None = None
) -> Iterator[av.AudioFrame]:
    """Frames of 1024 samples of the signal that repeats `period`, samples [start, stop); pts counted
    from `origin` (default: from `start`, for a fresh encoder)."""
    p = len(period)
    for s in range(start, stop, 1024):
        idx = np.arange(s, min(stop, s + 1024)) % p
        f = av.AudioFrame.from_ndarray(period[idx][None, :], format="fltp", layout=layout)
        f.sample_rate = rate
        f.pts = s - (start if origin is None else origin)
        yield f


def _encode_audio(ctx: AudioCodecContext, frames: Iterator[av.AudioFrame], flush: bool) -> list[_Pkt]:
    def pkt(p: av.Packet) -> _Pkt:
        assert p.pts is not None
        return _Pkt(p.pts, p.duration or 1024, bytes(p))

    out: list[_Pkt] = []
    for f in frames:
        out += [pkt(p) for p in ctx.encode(f)]
    if flush:
        out += [pkt(p) for p in ctx.encode(None)]
    return out


def _new_aac(fmt: DemoFormat) -> AudioCodecContext:
    ctx = av.CodecContext.create("aac", "w")
    assert isinstance(ctx, AudioCodecContext)
    ctx.sample_rate = fmt.sample_rate
    ctx.layout = fmt.layout
    ctx.format = "fltp"
    ctx.bit_rate = fmt.audio_bit_rate
    ctx.open()
    return ctx


_WARM_UP = 1024 * 24  # samples an AAC encoder runs before its packets are reused (~0.5 s)


def _audio_packets(language: str, n_samples: int, fmt: DemoFormat, encoder: AudioCodecContext) -> list[_Pkt]:
    """All AAC packets of the clip, pts in samples (the first, priming, at −1024).

    The signal repeats every P samples (P a whole number of AAC frames), so after a warm-up the
    packets of one window [L, L+P) stand for every later window; the end [T, N) is encoded by a fresh
    encoder started a warm-up before T, so that the last, short packet is exact."""
    P = 1024 * fmt.audio_period_frames
    period = voice_pattern(language, fmt.sample_rate, P)
    rate, layout = fmt.sample_rate, fmt.layout
    L = _WARM_UP
    if n_samples < L + 2 * P:
        return _encode_audio(encoder, _audio_frames(period, 0, n_samples, rate, layout), True)
    # Head, encoded for real: [0, L) is kept as is, [L, L+P) is the window that repeats.
    warm = _encode_audio(encoder, _audio_frames(period, 0, L + P + 4 * 1024, rate, layout), False)
    head = [p for p in warm if p.pts < L]
    loop = [p for p in warm if L <= p.pts < L + P]
    if [p.pts for p in loop] != list(range(L, L + P, 1024)):  # the encoder held more back than expected
        return warm + _encode_audio(encoder, _audio_frames(period, L + P + 4 * 1024, n_samples, rate, layout, 0), True)
    count = (n_samples - L) // P  # windows [L + kP, L + (k+1)P) that fit
    T = L + count * P
    middle = [_Pkt(p.pts + k * P, p.duration, p.data) for k in range(count) for p in loop]
    if n_samples <= T:
        return head + middle
    # Tail: [T, N) from a fresh encoder that starts a warm-up earlier (T − L ≥ 0 by construction).
    M = T - L
    tail = [
        _Pkt(p.pts + M, p.duration, p.data)
        for p in _encode_audio(_new_aac(fmt), _audio_frames(period, M, n_samples, rate, layout), True)
        if p.pts >= L
    ]
    return head + middle + tail


def write_demo_clip(path: Path, card: CardInfo, duration_s: float, fmt: DemoFormat = DEMO_FORMAT) -> None:
    """Write one demo clip (mp4, H.264 + AAC) of exactly `duration_s` seconds to `path`."""
    if duration_s <= 0:
        raise ValueError("a clip lasts longer than zero")
    fps, rate = fmt.fps, fmt.sample_rate
    n_frames = max(1, math.ceil(duration_s * fps - 1e-9))
    n_samples = max(1, round(duration_s * rate))
    _, painter = render_card(card, duration_s, fmt)

    with av.open(str(path), "w", format="mp4") as out:
        out.metadata["comment"] = DEMO_TAG
        out.metadata["title"] = card.title
        vs = out.add_stream(
            "libx264",
            rate=fps,
            options={
                "preset": "ultrafast",
                "tune": "zerolatency",
                "qp": str(fmt.qp),
                # P frames far coarser than the IDR picture (I at qp−12): a still picture then
                # gives pure-skip P frames, which can be reused from one second to the next.
                "x264-params": f"ipratio={fmt.ip_ratio}",
                "g": str(fps),
                "keyint_min": str(fps),
                "sc_threshold": "0",
                "bf": "0",
                "threads": "1",
            },
        )
        vs.width, vs.height, vs.pix_fmt = fmt.width, fmt.height, "yuv420p"
        aus = out.add_stream("aac", rate=rate, layout=fmt.layout)
        aus.bit_rate = fmt.audio_bit_rate
        aus.metadata["language"] = _iso639_2(card.language)
        out.start_encoding()

        vtb = vs.time_base  # the muxer's (e.g. 1/15360)
        assert vtb is not None
        atb = Fraction(1, rate)
        end_v = round(Fraction(duration_s).limit_denominator(10**6) / vtb)
        num, den = vtb.numerator * fps, vtb.denominator  # frame i starts at i·den/num stream units

        def vpkt(data: bytes | av.Packet, index: int, key: bool) -> av.Packet:
            p = data if isinstance(data, av.Packet) else av.Packet(data)
            start = (2 * index * den + num) // (2 * num)
            stop = min(end_v, (2 * (index + 1) * den + num) // (2 * num))
            p.time_base = vtb
            p.pts = p.dts = start
            p.duration = stop - start
            p.is_keyframe = key
            p.stream = vs
            return p

        audio = _audio_packets(card.language, n_samples, fmt, aus.codec_context)
        ai = 0

        def mux_audio_until(sample: int | None) -> None:
            nonlocal ai
            while ai < len(audio) and (sample is None or audio[ai].pts < sample):
                a = audio[ai]
                p = av.Packet(a.data)
                p.time_base = atb
                p.pts = p.dts = a.pts
                p.duration = a.duration
                p.stream = aus
                out.mux(p)
                ai += 1

        template: list[bytes] | None = None  # the P frames of one second, once proven to be pure copies
        calibration: list[bytes] = []  # every packet of the first two seconds, in order
        pending: list[int] = []  # frame indices handed to the encoder whose packet has not come out
        for sec in range(math.ceil(n_frames / fps)):
            frame = painter.frame(sec)
            first, last = sec * fps, min(n_frames, (sec + 1) * fps)
            for i in [first] if template is not None else range(first, last):
                frame.pts = i
                frame.pict_type = PictureType.I if i == first else PictureType.NONE
                pending.append(i)
                for pkt in vs.encode(frame):
                    idx = pending.pop(0)
                    if idx < 2 * fps:
                        calibration.append(bytes(pkt))
                    out.mux(vpkt(pkt, idx, idx % fps == 0))
            if template is not None:
                if pending:  # cannot happen with zerolatency and one thread, checked below
                    raise RuntimeError("the encoder held a frame back; P frames cannot be reused")
                for j in range(1, last - first):
                    out.mux(vpkt(template[j - 1], first + j, False))
            elif sec == 1 and last - first == fps and not pending:
                template = _reusable_p_frames(calibration, fps, vs.codec_context.extradata)
            mux_audio_until(round(Fraction(last, fps) * rate))
        for pkt in vs.encode(None):
            out.mux(vpkt(pkt, pending.pop(0), False))
        mux_audio_until(None)


def _reusable_p_frames(packets: list[bytes], fps: int, extradata: bytes | None) -> list[bytes] | None:
    """The P frames of the first second if they can stand for those of every second, else None.

    They can when the encoder made the same bytes after two different pictures and each of them
    decodes to exactly its reference picture (pure skips: no residual, no motion), so that after any
    other second's IDR picture they decode to that picture."""
    if len(packets) != 2 * fps:
        return None
    gop0, gop1 = packets[:fps], packets[fps:]
    if gop0[1:] != gop1[1:]:
        return None
    decoder = av.CodecContext.create("h264", "r")
    if extradata:
        decoder.extradata = extradata
    for gop in (gop0, gop1):
        pictures = [f.to_ndarray() for data in gop for f in decoder.decode(av.Packet(data))]
        pictures += [f.to_ndarray() for f in decoder.decode(None)] if gop is gop1 else []
        if gop is gop0 and len(pictures) != fps:
            return None
        if not all(np.array_equal(p, pictures[0]) for p in pictures[1:]):
            return None
    return gop0[1:]


def _iso639_2(code: str) -> str:
    return {"ko": "kor", "en": "eng", "ja": "jpn", "zh": "zho", "ru": "rus", "es": "spa", "fr": "fra"}.get(code, "und")
