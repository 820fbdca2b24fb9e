"""The /stats chart renders Chinese with a real CJK font, not boxes."""

from __future__ import annotations

import warnings
from io import BytesIO
from typing import Any

import numpy as np
from PIL import Image

from domain.stats import Period
from handlers import stats_texts as T
from handlers.stats import CJK_FONT_NAME, cjk_font_path, render_stats_chart
from storage.stats_queries import query_stats, weekly_trend
from tests.storage.test_stats_queries import NOVEMBER, NOW, SH, seed_desk

LABELS = [T.RESOLUTION_RATE, T.ON_TIME_RATE, T.SATISFACTION_RATE, T.CHART_UNITS_TITLE,
          T.CHART_SUBMITTED, T.CHART_RESOLVED, T.CHART_PERCENT, T.CHART_NO_DATA,
          "县自然资源局", "县供电公司"]


def test_font_is_a_cjk_font_with_the_glyphs() -> None:
    from matplotlib.ft2font import FT2Font

    path = cjk_font_path()
    assert path is not None, "no CJK font: install the project (mplfonts) or fonts-noto-cjk"
    assert path.is_file()
    assert CJK_FONT_NAME.search(path.name), path
    font = FT2Font(str(path))
    for label in LABELS:
        for ch in label:
            if not ch.isspace():
                assert font.get_char_index(ord(ch)) != 0, (ch, label)


def _ink(text: str, fname: str) -> np.ndarray:
    from matplotlib.ft2font import FT2Font

    font = FT2Font(fname)
    font.set_size(32, 72)
    font.set_text(text, 0.0)
    font.draw_glyphs_to_bitmap()
    return np.asarray(font.get_image())


def test_chinese_glyphs_are_drawn_not_boxes() -> None:
    path = cjk_font_path()
    assert path is not None
    ink = [_ink(ch, str(path)) for ch in "办结率满意"]
    for img in ink:
        assert (img > 128).sum() > 30  # real strokes
    # Different characters give different pictures (a missing glyph is the same box each time).
    shapes = {img.tobytes() for img in ink}
    assert len(shapes) == len(ink)


async def test_chart_png_with_chinese_labels(uow_factory: Any) -> None:
    await seed_desk(uow_factory)
    async with uow_factory() as uow:
        report = await query_stats(uow.session, now=NOW, tz=SH, period=NOVEMBER)
        trend = await weekly_trend(uow.session, now=NOW, tz=SH, weeks=8)
    with warnings.catch_warnings():
        # matplotlib warns "Glyph … missing from font(s)" when it would draw a box.
        warnings.simplefilter("error")
        png = render_stats_chart(report, trend, "全县 · 2026-11")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    img = Image.open(BytesIO(png)).convert("L")
    assert img.size[0] >= 1000 and img.size[1] >= 800
    pixels = np.asarray(img)
    assert (pixels < 200).mean() > 0.01  # bars and text were drawn


async def test_chart_of_an_empty_period(uow_factory: Any) -> None:
    async with uow_factory() as uow:
        report = await query_stats(uow.session, now=NOW, tz=SH, period=Period())
        trend = await weekly_trend(uow.session, now=NOW, tz=SH, weeks=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = render_stats_chart(report, trend)
    assert png.startswith(b"\x89PNG")


async def test_names_are_not_parsed_as_mathtext(uow_factory: Any) -> None:
    from dataclasses import replace

    async with uow_factory() as uow:
        await seed_desk(uow_factory)
        report = await query_stats(uow.session, now=NOW, tz=SH, period=NOVEMBER)
    odd = [replace(u, name=f"$\\frac{{{u.name}") for u in report.by_unit]
    png = render_stats_chart(replace(report, by_unit=odd), [], "$x^")
    assert png.startswith(b"\x89PNG")
