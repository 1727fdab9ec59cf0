"""Small server-side SVG bar charts: no JavaScript, no CDN, readable in a screenshot."""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from billing.money import format_usd


def bar_chart(rows, *, width: int = 900, bar_height: int = 26, label_width: int = 170,
              title: str = "") -> SafeString:
    """Horizontal bars of `row.spend`, labelled with `row.label`, images and amount."""
    if not rows:
        return mark_safe('<p class="muted">No charged images in this period.</p>')
    top = max(row.spend for row in rows) or 1
    plot = width - label_width - 150
    height = bar_height * len(rows) + 8
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}">']
    for i, row in enumerate(rows):
        y = 4 + i * bar_height
        length = max(1, plot * row.spend // top) if row.spend else 0
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">{escape(row.label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{length}" height="{bar_height - 6}" '
            f'rx="3"><title>{escape(row.label)}: {row.images} images, '
            f'{format_usd(row.spend, symbol=True)}</title></rect>'
            f'<text x="{label_width + length + 6}" y="{y + 15}" class="value">'
            f'{format_usd(row.spend, symbol=True)} · {row.images} img</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above


def column_chart(rows, *, width: int = 900, height: int = 180, title: str = "") -> SafeString:
    """Vertical columns per day: spend, with the first and last dates on the axis."""
    if not rows:
        return mark_safe('<p class="muted">No data.</p>')
    peak = max(row.spend for row in rows)
    top = peak or 1
    bottom, left = 24, 8
    slot = (width - 2 * left) / len(rows)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - left}" '
             f'y2="{height - bottom}" class="axis"/>']
    plot = height - bottom - 18
    for i, row in enumerate(rows):
        column = plot * row.spend // top
        x = left + i * slot + slot * 0.15
        parts.append(
            f'<rect x="{x:.1f}" y="{height - bottom - column}" width="{slot * 0.7:.1f}" '
            f'height="{column}" rx="2"><title>{escape(row.label)}: {row.images} images, '
            f'{format_usd(row.spend, symbol=True)}</title></rect>')
    parts.append(f'<text x="{left}" y="{height - 6}">{escape(rows[0].label)}</text>'
                 f'<text x="{width - left}" y="{height - 6}" text-anchor="end">'
                 f'{escape(rows[-1].label)}</text>'
                 f'<text x="{left}" y="12" class="value">max '
                 f'{format_usd(peak, symbol=True)}/day</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above
