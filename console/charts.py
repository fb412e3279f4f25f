"""Charts drawn on the server as SVG: no script, no CDN, nothing to install in the browser.
Each bar carries a <title>, so hovering a day shows its numbers."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 190
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 10, 24


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    values: Sequence[int]


def _nice_ceiling(value: int) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at least the value."""
    if value <= 5:
        return 5
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _n(value: float) -> str:
    """A coordinate: format_html escapes its arguments to strings before formatting them."""
    return f"{value:.1f}"


def stacked_bars(*, title: str, days: Sequence[date], series: Sequence[Series]) -> SafeString:
    """One bar per day, one stacked segment per series."""
    totals = [sum(s.values[i] for s in series) for i in range(len(days))]
    top = _nice_ceiling(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.75, 1.0)
    parts: list[SafeString] = []
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        parts.append(format_html('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>'
                                 '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#666">{}</text>',
                                 LEFT, _n(y), WIDTH - RIGHT, _n(y), LEFT - 4, _n(y + 3), int(top * fraction)))
    for i, day in enumerate(days):
        x = LEFT + slot * i + (slot - bar_w) / 2
        y = TOP + plot_h
        for s in series:
            value = s.values[i]
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            parts.append(format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} {}</title></rect>',
                _n(x), _n(y), _n(bar_w), _n(h), s.colour, day.isoformat(), value, s.label.lower()))
        if i % 5 == 0 or i == len(days) - 1:
            parts.append(format_html('<text x="{}" y="{}" font-size="10" text-anchor="middle" fill="#666">{}</text>',
                                     _n(x + bar_w / 2), HEIGHT - 8, day.strftime("%m-%d")))
    empty = "" if any(totals) else format_html(
        '<text x="{}" y="{}" font-size="12" text-anchor="middle" fill="#999">no documents in these days</text>',
        LEFT + plot_w / 2, TOP + plot_h / 2)
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="console-chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'role="img" aria-label="{title}"><title>{title}</title>{parts}{empty}</svg>',
        w=WIDTH, h=HEIGHT, title=title, parts=mark_safe("".join(parts)), empty=empty)


def legend(series: Sequence[Series]) -> SafeString:
    return format_html('<ul class="console-legend">{}</ul>', format_html_join(
        "", '<li><span style="background:{}"></span>{} ({})</li>',
        ((s.colour, s.label, sum(s.values)) for s in series)))
