"""Tenant-scoped reads of money, and the operators' reconciliation."""

from django.db.models import F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import LedgerEntry, Reservation, ReservationStatus, Wallet


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
