"""Small inline SVG pictures, drawn on the server: no script, no fonts or files fetched.

Each picture carries its meaning in words too (`<title>` and an accessible
name), so a reader who cannot see it loses nothing: the numbers are in the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

from service.report import marks

# Fill colours of the statuses: the marks' own, darker than their backgrounds so that bars show on white.
FILL = {
    "ON_TRACK": "#2e7d32",
    "AT_RISK": "#b26a00",
    "OFF_TRACK": "#c62828",
    "NO_DATA": "#757575",
    "NOT_ASSESSED": "#3f51b5",
}
INK = "#1f1f1f"


@dataclass(frozen=True)
class Point:
    quarter: str
    measured: Decimal | None
    comparison: Decimal | None
    status: str


def quarters_chart(label: str, points: Sequence[Point], rate: bool, chart_id: str) -> Markup:
    """A component's quarters as bars, each with its comparison value (from the baseline) as a dark tick."""
    width, height, top, bottom, left = 200, 84, 14, 16, 4
    slot = (width - left) / len(points)
    values = [v for p in points for v in (p.measured, p.comparison) if v is not None]
    top_value = max(values, default=Decimal(0))
    scale = (height - top - bottom) / float(top_value) if top_value > 0 else 0.0
    base = height - bottom
    parts = [f'<line x1="0" y1="{base}" x2="{width}" y2="{base}" stroke="{INK}" stroke-width="1"/>']
    words = []
    for i, p in enumerate(points):
        x = left + i * slot
        centre = x + slot / 2
        parts.append(_text(centre, height - 4, p.quarter, "middle"))
        tick = base - float(p.comparison) * scale if p.comparison is not None else base
        if p.measured is not None:
            h = float(p.measured) * scale
            parts.append(
                f'<rect x="{x + slot * 0.2:.1f}" y="{base - h:.1f}" width="{slot * 0.6:.1f}" height="{h:.1f}"'
                f' fill="{FILL[p.status]}"/>'
            )
            # Above both the bar and its tick, so that neither strikes the number through.
            parts.append(_text(centre, max(min(base - h, tick) - 4, 10), _short(p.measured, rate), "middle"))
        if p.comparison is not None:
            y = tick
            parts.append(
                f'<line x1="{x + slot * 0.1:.1f}" y1="{y:.1f}" x2="{x + slot * 0.9:.1f}" y2="{y:.1f}"'
                f' stroke="{INK}" stroke-width="2" stroke-dasharray="3 2"/>'
            )
        words.append(_words(p, rate))
    description = f"{label}: " + "; ".join(words)
    return _svg(chart_id, width, height, description, parts)


def status_bar(counts: Sequence[tuple[str, int]], chart_id: str, label: str) -> Markup:
    """How many measures have each status, as one bar of coloured lengths (the words go beside it)."""
    width, height = 240, 18
    total = sum(n for _, n in counts) or 1
    parts, x = [], 0.0
    for status, n in counts:
        w = width * n / total
        parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{FILL[status]}"/>')
        if w >= 14:
            parts.append(_text(x + w / 2, 13, str(n), "middle", fill="#ffffff"))
        x += w
    words = ", ".join(f"{n} {marks.mark(s).words.lower()}" for s, n in counts) or "no measures"
    return _svg(chart_id, width, height, f"{label}: {words}", parts)


def _svg(chart_id: str, width: int, height: int, description: str, parts: list[str]) -> Markup:
    title = escape(description)
    return Markup(
        f'<svg class="chart" id="{escape(chart_id)}" role="img" aria-labelledby="{escape(chart_id)}-t"'
        f' viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(chart_id)}-t">{title}</title>{"".join(parts)}</svg>'
    )


def _text(x: float, y: float, text: str, anchor: str, fill: str = INK) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="10" fill="{fill}"'
        f' font-family="DejaVu Sans, Arial, sans-serif">{escape(text)}</text>'
    )


def _short(value: Decimal, rate: bool) -> str:
    return (
        marks.one_place(value) + "%"
        if rate
        else marks.number(value.quantize(Decimal(1)) if abs(value) >= 10 else value)
    )


def _words(p: Point, rate: bool) -> str:
    if p.measured is None:
        return f"{p.quarter} no figure"
    said = f"{p.quarter} {_short(p.measured, rate)}"
    if p.comparison is not None:
        said += f" against {_short(p.comparison, rate)}"
    return f"{said} ({marks.mark(p.status).words.lower()})"
