"""Tenant-scoped reads of money, and the operators' reconciliation."""

from django.db.models import F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import LedgerEntry, Reservation, ReservationStatus, Wallet
from billing.pricing import pricing_terms_of
from billing.services import current_price_list


def wallet_of(*, organization) -> Wallet:
    return Wallet.objects.get(organization=organization)


def ledger_of(*, organization, limit: int = 50):
    return (LedgerEntry.objects.filter(wallet__organization=organization)
            .select_related("brand").order_by("-created_at", "-id")[:limit])


def wallet_discrepancies() -> list[dict]:
    """Every wallet whose cached totals differ from its entries and open reservations."""
    entry_sum = (LedgerEntry.objects.filter(wallet=OuterRef("pk")).order_by()
                 .values("wallet").annotate(total=Sum("amount")).values("total"))
    open_sum = (Reservation.objects.filter(wallet=OuterRef("pk"), status=ReservationStatus.OPEN)
                .order_by().values("wallet").annotate(total=Sum("amount")).values("total"))
    wallets = Wallet.objects.annotate(
        entries_total=Coalesce(Subquery(entry_sum), Value(0)),
        open_total=Coalesce(Subquery(open_sum), Value(0)),
    ).filter(~Q(balance=F("entries_total")) | ~Q(reserved=F("open_total")))
    return [
        {"wallet": wallet.pk, "organization": str(wallet.organization_id),
         "balance": wallet.balance, "entries_total": wallet.entries_total,
         "reserved": wallet.reserved, "open_reservations_total": wallet.open_total}
        for wallet in wallets
    ]


def effective_prices(*, organization) -> dict:
    """What this organization pays now: every (model, tier) of the price list in effect and the
    surcharges, after its explicit prices and discount. Google's costs are not shown here."""
    price_list = current_price_list()
    terms = pricing_terms_of(organization=organization)
    items = []
    for item in price_list.items.order_by("model", "tier"):
        explicit = terms.explicit_price(item.model, item.tier)
        unit_price = terms.unit_price(item.unit_price, explicit=explicit)
        source = "override" if explicit is not None else (
            "discount" if unit_price != item.unit_price else "list")
        items.append({"model": item.model, "tier": item.tier, "unit_price": unit_price,
                      "list_price": item.unit_price, "source": source})
    surcharges = {
        name: {"unit_price": terms.unit_price(list_price), "list_price": list_price}
        for name, list_price in (("search_grounding", price_list.grounding_surcharge),
                                 ("reference_image", price_list.reference_image_surcharge))
    }
    return {"price_list": price_list, "discount_bps": terms.discount_bps, "items": items,
            "surcharges": surcharges}
