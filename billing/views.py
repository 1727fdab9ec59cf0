"""The billing page: balance, buying credits, payments and receipts, promo codes, auto-recharge,
the low-balance threshold and the ledger. Every write is a service call; this module only reads
forms and renders."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from accounts.models import Scope
from accounts.pages import render_page, tenant_page
from accounts.selectors import brands_visible_to
from billing import statements
from billing.alerts import low_balance_threshold_set
from billing.models import EntryKind
from billing.money import format_bps, format_usd, parse_usd
from billing.payments import selectors as payment_selectors
from billing.payments import services as payments
from billing.payments.gateway import stripe_configured
from billing.promos import promo_redeem
from billing.selectors import wallet_of
from config.errors import DomainError

LEDGER_PAGE_SIZE = 25
PAYMENTS_SHOWN = 25


def _usd_field(value: str | None, *, param: str, label: str) -> int:
    try:
        return parse_usd((value or "").strip().lstrip("$"))
    except ValueError:
        raise DomainError(f"{label} must be a number of US dollars, like 25 or 25.50.",
                          code="invalid_amount", param=param) from None


def buy_context(tenant) -> dict:
    """What the "Buy credits" block shows: packs with their bonus, the custom-amount limits and
    the bonus rules, or why buying is not possible. Shared by the billing page and /billing/buy/."""
    account = payment_selectors.payment_account_of(organization=tenant.organization)
    offers = []
    for pack in payment_selectors.credit_packs_active():
        bonus, bp = payments.bonus_for(pack.amount)
        offers.append({"pack": pack, "bonus": bonus, "percent": f"{format_bps(bp)}",
                       "credits": pack.amount + bonus})
    low, high = payments.purchase_limits()
    return {
        "configured": stripe_configured(),
        "frozen": bool(account and account.purchases_frozen_at),
        "packs": offers, "min_usd": format_usd(low), "max_usd": format_usd(high),
        "bonus_rules": [{"min": rule.min_amount, "percent": f"{format_bps(rule.bonus_bp)}"}
                        for rule in payment_selectors.bonus_rules_active()],
        "account": account,
    }


@tenant_page(Scope.BILLING)
def billing_page(request, tenant):
    if request.method == "POST":
        return _billing_action(request, tenant)
    wallet = wallet_of(organization=tenant.organization)
    # The API's statement filters (kind, brand, since, until), so the CSV link matches the page.
    entries = statements.ledger_entries(tenant=tenant,
                                        filters=statements.ledger_filter_from(tenant, request.GET))
    filters = request.GET.copy()
    filters.pop("page", None)
    return render_page(request, "dashboard/billing.html", {
        "wallet": wallet,
        "page": Paginator(entries, LEDGER_PAGE_SIZE).get_page(request.GET.get("page")),
        "filters": filters.urlencode(), "filter_values": request.GET,
        "kinds": EntryKind.choices, "brands": brands_visible_to(tenant, include_archived=True),
        "payments": payment_selectors.payments_of(organization=tenant.organization,
                                                  limit=PAYMENTS_SHOWN),
        **buy_context(tenant),
    })


def _billing_action(request, tenant):
    action = request.POST.get("action", "")
    organization = tenant.organization
    try:
        if action == "promo":
            redemption = promo_redeem(organization=organization,
                                      code=request.POST.get("code", ""), actor=request.user)
            messages.success(request, f"Promo code {redemption.promo.code} redeemed: "
                                      f"{format_usd(redemption.entry.amount, symbol=True)} added.")
        elif action == "threshold":
            wallet = low_balance_threshold_set(
                organization=organization,
                threshold=_usd_field(request.POST.get("threshold") or "0", param="threshold",
                                     label="The threshold"))
            messages.success(request, "Low-balance alert off." if not wallet.low_balance_threshold
                             else "We will email you when available credit drops below "
                                  f"{format_usd(wallet.low_balance_threshold, symbol=True)}.")
        elif action == "auto_recharge":
            enabled = request.POST.get("enabled") == "on"
            account = payments.auto_recharge_configure(
                organization=organization, enabled=enabled,
                threshold=_usd_field(request.POST.get("threshold"), param="threshold",
                                     label="The threshold") if enabled else None,
                amount=_usd_field(request.POST.get("amount"), param="amount",
                                  label="The amount") if enabled else None)
            amount, below = (format_usd(account.auto_recharge_amount, symbol=True),
                             format_usd(account.auto_recharge_threshold, symbol=True))
            messages.success(request, f"Auto-recharge on: {amount} when available credit drops "
                                      f"below {below}." if account.auto_recharge_enabled
                             else "Auto-recharge off.")
        else:
            messages.error(request, "Unknown action.")
    except DomainError as error:  # NotFound included: a wrong promo code is a message, not a 404
        messages.error(request, error.message)
    return redirect("dashboard:billing")


@require_GET
@tenant_page(Scope.BILLING, as_json=True)
def bonus_preview(request, tenant):
    """The bonus a custom amount earns, before paying (the same rules the checkout applies)."""
    try:
        amount = payments.purchase_amount(amount=request.GET.get("amount", "").strip() or "0")
    except DomainError as error:
        return JsonResponse({"valid": False, "message": error.message})
    bonus, bp = payments.bonus_for(amount)
    return JsonResponse({"valid": True, "amount": format_usd(amount, symbol=True),
                         "bonus": format_usd(bonus, symbol=True), "percent": f"{format_bps(bp)}",
                         "credits": format_usd(amount + bonus, symbol=True),
                         "message": payments.bonus_description(amount, bonus, bp)})


@tenant_page(Scope.BILLING)
def buy(request, tenant):
    """`/billing/buy/`: the "Buy credits" block on its own page; POST starts a Stripe Checkout
    Session for a pack or a custom amount and goes to Stripe's payment page."""
    if request.method == "POST":
        pack = request.POST.get("pack") or None
        try:
            payment = payments.checkout_start(
                organization=tenant.organization, user=request.user,
                pack_id=int(pack) if pack and pack.isdigit() else None,
                amount=None if pack else (request.POST.get("amount") or "").strip() or None)
        except DomainError as error:  # NotFound included (a withdrawn pack): say it on the page
            messages.error(request, error.message)
        else:
            return redirect(payment.checkout_url)
    return render_page(request, "dashboard/buy.html", buy_context(tenant))
