"""Slates: a rendered card with title, subtitle, note and an optional countdown.

The card is drawn once per slate; only the countdown strip is redrawn, and only when its text
changes (once a second live, every frame in a fast rehearsal)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
from av.video.frame import VideoFrame
from PIL import Image, ImageDraw, ImageFont

from orchestrator.media.frames import yuv_planes
from orchestrator.planning.cues import Slate

BACKGROUND = (16, 28, 52)
ACCENT = (242, 169, 0)
TEXT = (245, 245, 245)
MUTED = (180, 190, 205)

# Noto Sans CJK covers Hangul and Latin; index 1 of the collection is its Korean cut.
_FONT_CANDIDATES: dict[bool, list[tuple[str, int]]] = {
    True: [
        ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 1),
        ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 0),
    ],
    False: [
        ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 1),
        ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0),
    ],
}


@lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path, index in _FONT_CANDIDATES[bold]:
        if Path(path).exists():
            return ImageFont.truetype(path, size, index=index)
    return ImageFont.load_default(size)


def countdown_text(target: datetime, now: datetime) -> str:
    """Whole seconds left, rounded up, so "00:00" shows only once the target is reached."""
    left = max(0, math.ceil((target - now).total_seconds()))
    h, rest = divmod(left, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, fnt: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float
) -> list[str]:
    """Greedy wrapping by words, and by characters for a word (or CJK run) wider than the line."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=fnt) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for ch in word:
            if draw.textlength(line + ch, font=fnt) > width and line:
                lines.append(line)
                line = ""
            line += ch
    if line:
        lines.append(line)
    return lines


@dataclass
class _Card:
    image: Image.Image  # RGB, the card without countdown
    yuv: np.ndarray  # the same in yuv420p
    strip: tuple[int, int]  # rows [top, bottom) where the countdown goes (even numbers)
    text: str | None = None
    frame: VideoFrame | None = None


class SlateRenderer:
    """Renders slates at one rendition size, caching the card of each slate it has seen."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self._cards: dict[Slate, _Card] = {}

    def frame(self, slate: Slate, event_time: datetime) -> VideoFrame:
        card = self._cards.get(slate)
        if card is None:
            card = self._cards[slate] = self._draw_card(slate)
        text = countdown_text(slate.countdown_to, event_time) if slate.countdown_to else None
        if card.frame is None or text != card.text:
            card.text = text
            card.frame = VideoFrame.from_ndarray(self._with_countdown(card, text), format="yuv420p")
        return card.frame

    def _draw_card(self, slate: Slate) -> _Card:
        w, h = self.width, self.height
        img = Image.new("RGB", (w, h), BACKGROUND)
        draw = ImageDraw.Draw(img)
        draw.rectangle([0, int(h * 0.9), w, int(h * 0.9) + max(2, h // 120)], fill=ACCENT)
        y = h * 0.2
        for text, size, bold, colour in (
            (slate.title, 0.075, True, TEXT),
            (slate.subtitle, 0.05, False, MUTED),
            (slate.note, 0.045, False, ACCENT),
        ):
            if not text:
                continue
            fnt = font(max(8, int(h * size)), bold)
            for line in _wrap(draw, text, fnt, w * 0.9)[:3]:
                draw.text((w / 2, y), line, font=fnt, fill=colour, anchor="mt")
                y += h * size * 1.35
            y += h * 0.04
        top = int(h * 0.68) // 2 * 2
        bottom = int(h * 0.86) // 2 * 2
        yuv = _yuv(img)
        return _Card(image=img, yuv=yuv, strip=(top, bottom))

    def _with_countdown(self, card: _Card, text: str | None) -> np.ndarray:
        if text is None:
            return card.yuv
        top, bottom = card.strip
        strip = card.image.crop((0, top, self.width, bottom))
        fnt = font(max(8, int(self.height * 0.12)), True)
        ImageDraw.Draw(strip).text((self.width / 2, (bottom - top) / 2), text, font=fnt, fill=TEXT, anchor="mm")
        strip_yuv = _yuv(strip)
        out = card.yuv.copy()
        for dst, src, k in zip(
            yuv_planes(out, self.height), yuv_planes(strip_yuv, bottom - top), (1, 2, 2), strict=False
        ):
            dst[top // k : bottom // k] = src
        return out


def _yuv(img: Image.Image) -> np.ndarray:
    """A picture as a yuv420p array (planes stacked, as PyAV's `to_ndarray` gives them)."""
    frame = VideoFrame.from_image(img)  # type: ignore[no-untyped-call]  # PyAV's stub leaves it untyped
    planes: np.ndarray = frame.reformat(format="yuv420p").to_ndarray()
    return planes


class LowerThird:
    """A name/city caption over the bottom of a live picture: drawn once, blended into each new
    picture (only its band of rows is touched)."""

    def __init__(self, width: int, height: int, name: str, line: str) -> None:
        self.width = width
        self.height = height
        band_h = max(4, int(height * 0.16)) // 2 * 2
        self.top = (int(height * 0.78) // 2 * 2) if height - int(height * 0.78) >= band_h else height - band_h
        self.bottom = self.top + band_h
        img = Image.new("RGB", (width, band_h), BACKGROUND)
        alpha = Image.new("L", (width, band_h), 0)
        draw = ImageDraw.Draw(img)
        x0 = int(width * 0.05)
        name_font = font(max(8, int(band_h * 0.42)), True)
        line_font = font(max(8, int(band_h * 0.28)))
        text_w = max(draw.textlength(name, font=name_font), draw.textlength(line, font=line_font) if line else 0)
        box_w = min(width - x0, int(text_w + band_h * 0.6))
        ImageDraw.Draw(alpha).rectangle([x0, 0, x0 + box_w, band_h], fill=210)
        draw.rectangle([x0, 0, x0 + max(2, band_h // 12), band_h], fill=ACCENT)
        alpha_draw = ImageDraw.Draw(alpha)
        alpha_draw.rectangle([x0, 0, x0 + max(2, band_h // 12), band_h], fill=255)
        tx = x0 + band_h * 0.3
        draw.text((tx, band_h * 0.08), name, font=name_font, fill=TEXT)
        if line:
            draw.text((tx, band_h * 0.58), line, font=line_font, fill=MUTED)
        self._yuv = _yuv(img).astype(np.float32)
        a = np.asarray(alpha, dtype=np.float32) / 255.0
        self._alpha = (a, a[::2, ::2], a[::2, ::2])

    def over(self, frame: VideoFrame) -> VideoFrame:
        """`frame` (yuv420p at this size) with the caption blended in; a new frame."""
        arr = frame.to_ndarray().copy()
        band = self.bottom - self.top
        for dst, src, a, k in zip(
            yuv_planes(arr, self.height), yuv_planes(self._yuv, band), self._alpha, (1, 2, 2), strict=False
        ):
            rows = dst[self.top // k : self.bottom // k]
            rows[:] = (rows * (1.0 - a) + src * a).round().astype(np.uint8)
        return VideoFrame.from_ndarray(arr, format="yuv420p")
