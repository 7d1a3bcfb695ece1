"""What a dataframe on a page shows in the browser, measured as Streamlit's data grid draws it: each cell's text in
the grid's own font (the Source Sans that Streamlit ships, 14 px at weight 400: `--gdg-base-font-style`) with 8 px
of padding on each side (`--gdg-cell-horizontal-padding`). A column narrower than its widest text cuts it."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from pathlib import Path
from typing import Any

import streamlit
from PIL import ImageFont

PADDING_PX = 8
_MOMENT = (("YYYY", "%Y"), ("MM", "%m"), ("DD", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S"))


@functools.cache
def _font() -> ImageFont.FreeTypeFont:
    media = Path(streamlit.__file__).parent / "static" / "static" / "media"
    font = ImageFont.truetype(str(next(media.glob("SourceSansVF-Upright*"))), 14)
    font.set_variation_by_axes([400])
    return font


def text_px(text: str) -> float:
    return _font().getlength(text)


def shown(value: Any, type_config: dict[str, Any]) -> str:
    """The text the grid draws for a value, with the column's format."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    kind, fmt = type_config.get("type"), type_config.get("format")
    if kind == "number" and fmt and "%" in fmt:
        return fmt % value
    if kind == "datetime" and fmt and isinstance(value, dt.datetime):
        for moment, strf in _MOMENT:
            fmt = fmt.replace(moment, strf)
        return value.strftime(fmt)
    return str(value)


def columns(table: Any) -> dict[str, dict[str, Any]]:
    return json.loads(table.proto.columns)


def cut(table: Any, only: tuple[str, ...] | None = None) -> list[tuple[str, str, float, int]]:
    """(column, text, px it needs, px it has) for every cell and header that a fixed-width column cuts."""
    found = []
    for name, config in columns(table).items():
        width = config.get("width")
        if not isinstance(width, int) or (only and name not in only) or name not in table.value.columns:
            continue
        texts = [config.get("label") or name] + [shown(v, config.get("type_config") or {}) for v in table.value[name]]
        for text in texts:
            need = text_px(text) + 2 * PADDING_PX
            if need > width:
                found.append((name, text, round(need, 1), width))
    return found


def total_px(table: Any) -> int:
    """The table's width when every shown column has a width in px (an unsized one counts as wide)."""
    config = columns(table)
    return sum(c["width"] if isinstance(c.get("width"), int) else 10_000 for name, c in config.items()
               if name in table.value.columns)
