from django import template

from billing.money import format_usd

register = template.Library()


@register.filter
def usd(micros) -> str:
    return format_usd(int(micros or 0), symbol=True)
