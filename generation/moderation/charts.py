"""Charts drawn on the server as inline SVG: no JavaScript, no CDN, readable without either."""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

STATE_COLORS = {
    "succeeded": "#2e7d32", "running": "#1565c0", "queued": "#90a4ae", "failed": "#c62828",
    "blocked": "#ef6c00", "canceled": "#6d4c41",
}


def bars(columns: list[tuple[str, dict[str, int]]], *, keys: list[str],
         colors: dict[str, str], width: int = 720, height: int = 180, title: str = "",
         grouped: bool = False, label_every: int = 10, value_format=str) -> SafeString:
    """One bar per column, its keys stacked (or side by side when `grouped`); `columns` is
    [(label, {key: value})]. Every `label_every`-th column is labelled underneath."""
    totals = [max(values.values(), default=0) if grouped else sum(values.values())
              for _, values in columns]
    top = max(totals + [1])
    pad_left, pad_right, pad_bottom, pad_top = 60, 24, 18, 8
    plot_w, plot_h = width - pad_left - pad_right, height - pad_bottom - pad_top
    step = plot_w / max(len(columns), 1)
    bar_w = max(step * 0.8, 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" class="chart">'
             f'<title>{escape(title)}</title>',
             f'<text x="0" y="{pad_top + 8}" font-size="10">{escape(value_format(top))}</text>',
             f'<text x="0" y="{pad_top + plot_h}" font-size="10">{escape(value_format(0))}</text>',
             f'<line x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width - pad_right}" '
             f'y2="{pad_top + plot_h}" stroke="#999"/>']
    for index, (label, values) in enumerate(columns):
        x = pad_left + index * step
        y = pad_top + plot_h
        present = [key for key in keys if values.get(key)]
        for position, key in enumerate(present):
            value = values[key]
            h = plot_h * value / top
            if grouped:
                width_each = bar_w / len(present)
                rect_x, rect_y, rect_w = x + position * width_each, pad_top + plot_h - h, width_each
            else:
                y -= h
                rect_x, rect_y, rect_w = x, y, bar_w
            parts.append(f'<rect x="{rect_x:.1f}" y="{rect_y:.1f}" width="{rect_w:.1f}" '
                         f'height="{h:.1f}" fill="{colors.get(key, "#555")}">'
                         f'<title>{escape(label)} {escape(key)}: {escape(value_format(value))}'
                         f'</title></rect>')
        # The last column is labelled too, unless that would crowd the previous label.
        last_fits = index == len(columns) - 1 and index % label_every > label_every // 2
        if index % label_every == 0 or last_fits:
            parts.append(f'<text x="{x:.1f}" y="{height - 4}" font-size="9">{escape(label)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated label is escaped


def horizontal_bars(rows: list[tuple[str, int, str]], *, width: int = 520,
                    title: str = "", color: str = "#1565c0") -> SafeString:
    """[(label, value, display)] as horizontal bars, longest = full width."""
    row_h, label_w = 20, 170
    height = max(len(rows), 1) * row_h + 4
    top = max([value for _, value, _ in rows] + [1])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" class="chart">'
             f'<title>{escape(title)}</title>']
    for index, (label, value, display) in enumerate(rows):
        y = index * row_h + 2
        bar = max((width - label_w - 90) * max(value, 0) / top, 0)
        parts.append(f'<text x="0" y="{y + 13}" font-size="11">{escape(label[:28])}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{bar:.1f}" height="{row_h - 6}" '
                     f'fill="{color}"/>'
                     f'<text x="{label_w + bar + 4:.1f}" y="{y + 13}" font-size="11">'
                     f'{escape(display)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated label is escaped
