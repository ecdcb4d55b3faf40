"""Inline SVG charts for evidence.html: no script, no external asset, prints as drawn."""

# ruff: noqa: E501  (HTML and Markdown templates read best unwrapped)
from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["COLOURS", "day_chart", "label_chart"]

COLOURS = {"pass": "#4c9a6a", "redact": "#d9a21b", "block": "#c0392b"}


def day_chart(per_day: list[dict[str, Any]], *, width: int = 720, height: int = 180) -> str:
    """Guarded responses per day, stacked by action."""
    if not per_day:
        return "<p>(no records in the period)</p>"
    top = max(d["guarded"] for d in per_day) or 1
    pad, base = 40, height - 24
    step = (width - pad) / len(per_day)
    bar = max(1.0, step * 0.8)
    parts = [
        f'<svg class="chart" role="img" aria-label="responses guarded per day" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{pad}" y1="{base}" x2="{width}" y2="{base}" stroke="#888"/>',
        f'<text x="{pad - 4}" y="12" text-anchor="end" font-size="10">{top:,}</text>',
        f'<text x="{pad - 4}" y="{base}" text-anchor="end" font-size="10">0</text>',
    ]
    for i, day in enumerate(per_day):
        x = pad + i * step
        y = float(base)
        for action in ("pass", "redact", "block"):
            n = day["actions"].get(action, 0)
            if not n:
                continue
            h = (base - 16) * n / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[action]}"><title>{escape(day["day"])} {action}: {n:,}</title></rect>'
            )
    every = max(1, len(per_day) // 8)
    for i in range(0, len(per_day), every):
        x = pad + i * step
        parts.append(
            f'<text x="{x:.1f}" y="{height - 8}" font-size="10">{escape(per_day[i]["day"][5:])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def label_chart(per_label: dict[str, dict[str, int]], *, width: int = 720) -> str:
    """Findings per label, stacked by the action taken on them."""
    if not per_label:
        return "<p>(no findings in the period)</p>"
    rows = sorted(per_label.items(), key=lambda item: -sum(item[1].values()))
    top = max(sum(v.values()) for _, v in rows) or 1
    row_h, left = 20, 170
    height = row_h * len(rows) + 8
    parts = [
        f'<svg class="chart" role="img" aria-label="findings per label" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, actions) in enumerate(rows):
        y = 4 + i * row_h
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" font-size="11">{escape(label)}</text>'
        )
        x = float(left)
        for action, n in sorted(actions.items()):
            w = (width - left - 60) * n / top
            colour = COLOURS.get(action, "#7f8c8d")
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}" fill="{colour}">'
                f"<title>{escape(label)} {escape(action)}: {n:,}</title></rect>"
            )
            x += w
        parts.append(
            f'<text x="{x + 4:.1f}" y="{y + 13}" font-size="11">{sum(actions.values()):,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
