"""Per-organization pricing terms: an agency discount and explicit per-(model, tier) prices.

Discounts are basis points applied to each unit price with integer arithmetic, rounding half
up to the micro-USD, so the same price list and terms always give the same amounts.
"""

from dataclasses import dataclass, field

from billing.models import OrganizationDiscount, PriceOverride
from billing.reference import organization_terms
from config import refcache

BPS = 10_000


def discounted(unit_price: int, discount_bps: int) -> int:
    return (unit_price * (BPS - discount_bps) + BPS // 2) // BPS


@dataclass(frozen=True)
class PricingTerms:
    discount_bps: int = 0
    explicit: dict[tuple[str, str], int] = field(default_factory=dict)

    def explicit_price(self, model: str, tier: str) -> int | None:
        return self.explicit.get((model, tier))

    def unit_price(self, list_price: int, *, explicit: int | None = None) -> int:
        if explicit is not None:
            return explicit
        return discounted(list_price, self.discount_bps)


LIST_PRICES = PricingTerms()


def pricing_terms_of(*, organization) -> PricingTerms:
    if organization is None:
        return LIST_PRICES
    if refcache.enabled():
        terms = organization_terms(organization.pk)
        return PricingTerms(discount_bps=terms.discount_bps, explicit=terms.explicit)
    discount = OrganizationDiscount.objects.filter(organization=organization).first()
    explicit = {(row.model, row.tier): row.unit_price
                for row in PriceOverride.objects.filter(organization=organization)}
    return PricingTerms(discount_bps=discount.discount_bps if discount else 0, explicit=explicit)
