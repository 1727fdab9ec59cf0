"""Prices and per-organization pricing terms as every submit reads them: once per process,
reused until a write changes them (see config.refcache). A quote must use the price in force:
the price book holds the current list and every future one, and the list in effect is chosen
at quote time, so a list that becomes effective needs no write to take over.

Every save or delete of a PriceList, PriceItem, OrganizationDiscount, PriceOverride or SpendCap
(services, the staff admin, the shell) bumps the stamp through the signals below. A write that
bypasses model signals (queryset.update, raw SQL) must call `prices_changed` /
`organization_terms_changed` itself.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from billing.models import (
    OrganizationDiscount,
    PriceItem,
    PriceList,
    PriceOverride,
    SpendCap,
)
from config import refcache

PRICES = "billing:prices"


def terms_stamp(organization_id) -> str:
    return f"billing:terms:{organization_id}"


@dataclass(frozen=True)
class PricedList:
    price_list: PriceList
    items: dict[tuple[str, str], PriceItem]


def _load_price_book() -> tuple[PricedList, ...]:
    """The list in effect now and every later one, latest first (the selection order of
    `current_price_list`: effective_at, then id, descending)."""
    now = timezone.now()
    current = (PriceList.objects.filter(effective_at__lte=now)
               .order_by("-effective_at", "-id").values_list("pk", flat=True).first())
    lists = PriceList.objects.filter(effective_at__gt=now)
    if current is not None:
        lists = lists | PriceList.objects.filter(pk=current)
    lists = list(lists.order_by("-effective_at", "-id"))
    items: dict[int, dict] = {price_list.pk: {} for price_list in lists}
    for item in PriceItem.objects.filter(price_list__in=[pl.pk for pl in lists]):
        items[item.price_list_id][(item.model, item.tier)] = item
    return tuple(PricedList(pl, items[pl.pk]) for pl in lists)


def priced_list_in_effect(at: datetime | None = None) -> PricedList | None:
    """The price list in effect at `at` (now by default) with its items; None when none is."""
    if at is not None or not refcache.enabled():  # read as it is, nothing memoized
        price_list = (PriceList.objects.filter(effective_at__lte=at or timezone.now())
                      .order_by("-effective_at", "-id").first())
        if price_list is None:
            return None
        return PricedList(price_list, {(item.model, item.tier): item
                                       for item in price_list.items.all()})
    now = timezone.now()
    for priced in refcache.cached(PRICES, _load_price_book):
        if priced.price_list.effective_at <= now:
            return priced
    return None


@dataclass(frozen=True)
class OrganizationTerms:
    discount_bps: int
    explicit: dict[tuple[str, str], int]
    capped_brand_ids: frozenset
    capped_api_key_ids: frozenset


def _load_terms(organization_id) -> OrganizationTerms:
    discount = (OrganizationDiscount.objects.filter(organization_id=organization_id)
                .values_list("discount_bps", flat=True).first())
    explicit = {(model, tier): price for model, tier, price in PriceOverride.objects.filter(
        organization_id=organization_id).values_list("model", "tier", "unit_price")}
    caps = SpendCap.objects.filter(brand__organization_id=organization_id) \
        | SpendCap.objects.filter(api_key__organization_id=organization_id)
    capped = list(caps.values_list("brand_id", "api_key_id"))
    return OrganizationTerms(
        discount_bps=discount or 0, explicit=explicit,
        capped_brand_ids=frozenset(brand for brand, _ in capped if brand is not None),
        capped_api_key_ids=frozenset(key for _, key in capped if key is not None))


def organization_terms(organization_id) -> OrganizationTerms:
    """The organization's discount, explicit prices, and which of its brands and keys have a
    spend cap."""
    name = terms_stamp(organization_id)
    return refcache.cached(name, lambda: _load_terms(organization_id))


def prices_changed() -> None:
    refcache.bump(PRICES)


def organization_terms_changed(organization_id) -> None:
    refcache.bump(terms_stamp(organization_id))


def _spend_cap_organization_id(cap: SpendCap):
    owner = cap.brand if cap.brand_id else cap.api_key
    return owner.organization_id


def _on_price_write(sender, **kwargs):
    prices_changed()


def _on_terms_write(sender, instance, **kwargs):
    organization_terms_changed(instance.organization_id)


def _on_spend_cap_write(sender, instance, **kwargs):
    try:
        organization_id = _spend_cap_organization_id(instance)
    except (SpendCap.brand.RelatedObjectDoesNotExist, SpendCap.api_key.RelatedObjectDoesNotExist,
            AttributeError):
        return  # its brand or key is being deleted with it: nothing can submit through it
    organization_terms_changed(organization_id)


for _model in (PriceList, PriceItem):
    post_save.connect(_on_price_write, sender=_model, dispatch_uid=f"refcache:{_model.__name__}")
    post_delete.connect(_on_price_write, sender=_model,
                        dispatch_uid=f"refcache-del:{_model.__name__}")
for _model in (OrganizationDiscount, PriceOverride):
    post_save.connect(_on_terms_write, sender=_model, dispatch_uid=f"refcache:{_model.__name__}")
    post_delete.connect(_on_terms_write, sender=_model,
                        dispatch_uid=f"refcache-del:{_model.__name__}")
post_save.connect(_on_spend_cap_write, sender=SpendCap, dispatch_uid="refcache:SpendCap")
post_delete.connect(_on_spend_cap_write, sender=SpendCap, dispatch_uid="refcache-del:SpendCap")
