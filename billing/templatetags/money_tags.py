from django import template

from billing.money import format_usd

register = template.Library()


@register.filter
def usd(micros) -> str:
    """Micro-USD as '$12.50' in templates; the only place money turns into text on pages."""
    return format_usd(int(micros or 0), symbol=True)
