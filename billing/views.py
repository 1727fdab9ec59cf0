"""The billing page: balance, available credit, the ledger, and where buying credits goes."""

from django.conf import settings
from django.core.paginator import Paginator

from accounts.models import Scope
from accounts.pages import render_page, tenant_page
from billing.models import LedgerEntry
from billing.selectors import wallet_of

LEDGER_PAGE_SIZE = 25


@tenant_page(Scope.BILLING)
def billing_page(request, tenant):
    wallet = wallet_of(organization=tenant.organization)
    entries = (LedgerEntry.objects.filter(wallet=wallet).select_related("brand", "actor")
               .order_by("-created_at", "-id"))
    return render_page(request, "dashboard/billing.html", {
        "wallet": wallet,
        "page": Paginator(entries, LEDGER_PAGE_SIZE).get_page(request.GET.get("page")),
        # Purchases arrive with the Stripe checkout work; until then the page says so plainly.
        "purchases_configured": bool(settings.STRIPE_SECRET_KEY) and _checkout_available(),
    })


def _checkout_available() -> bool:
    try:
        from billing import checkout  # noqa: F401 - provided by the Stripe purchases work
    except ImportError:
        return False
    return True
