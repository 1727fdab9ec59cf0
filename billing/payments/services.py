"""Writes for credit purchases: checkout, fulfilment, refunds, disputes, debt and auto-recharge.

Exactly-once crediting rests on the database, not on delivery order:
- each Payment row is locked (`select_for_update`) while it is fulfilled or clawed back, and its
  own columns (`paid_at`, `amount_refunded`, `stripe_dispute_id`...) say what was already done;
- every ledger entry carries a key derived from the payment (`stripe:cs_...:purchase`,
  `:bonus`, `:refund:<cumulative cents>`...), so even a second path cannot post twice.
Lock order everywhere: Payment row, then PaymentAccount row, then the wallet row.

Clawbacks never break the wallet's `balance >= reserved` constraint: a clawback takes at most
the available credit and records the rest as `PaymentAccount.debt`, which the next purchase
settles first (see docs/payments.md).

Stripe calls (network) happen outside transactions; webhook handlers touch only the database.
"""

import logging

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from billing.models import EntryKind, Wallet
from billing.money import MICROS_PER_USD, format_bps, format_usd, parse_usd
from billing.payments.gateway import plain, stripe_client
from billing.payments.models import (
    BonusRule,
    CreditPack,
    EventStatus,
    Payment,
    PaymentAccount,
    PaymentKind,
    PaymentStatus,
    StripeEvent,
)
from billing.services import ledger_post
from config.errors import Conflict, DomainError, NotFound
from config.ids import is_uuid

logger = logging.getLogger(__name__)

MICROS_PER_CENT = 10_000
BASIS_POINTS = 10_000
STALE_PROCESSING_SECONDS = 300


class RetryLater(Exception):
    """The event refers to something not yet known here (e.g. a refund before its fulfilment):
    fail it so that Stripe's redelivery processes it later."""


# --- Offers -------------------------------------------------------------------------------------

def bonus_for(amount: int) -> tuple[int, int]:
    """(bonus micro-USD, basis points) the active bonus rules give a purchase of `amount`."""
    rule = (BonusRule.objects.filter(active=True, min_amount__lte=amount)
            .order_by("-min_amount", "-bonus_bp", "-id").first())
    bp = rule.bonus_bp if rule else 0
    return amount * bp // BASIS_POINTS, bp


def purchase_limits() -> tuple[int, int]:
    return settings.PURCHASE_MIN_USD * MICROS_PER_USD, settings.PURCHASE_MAX_USD * MICROS_PER_USD


def purchase_amount(*, pack_id: int | None = None, amount: str | int | None = None) -> int:
    """The micro-USD price of a pack or of a custom amount, validated against the limits."""
    if (pack_id is None) == (amount is None):
        raise DomainError("Give either a credit pack or a custom amount.", code="invalid_field",
                          param="pack")
    if pack_id is not None:
        pack = CreditPack.objects.filter(pk=pack_id, active=True).first()
        if pack is None:
            raise NotFound("No such credit pack.", code="pack_not_found", param="pack")
        return pack.amount
    try:
        micros = amount if isinstance(amount, int) else parse_usd(amount)
    except ValueError:
        raise DomainError("The amount must be a number of US dollars, like 25 or 25.50.",
                          code="invalid_amount", param="amount") from None
    if micros % MICROS_PER_CENT:
        raise DomainError("The amount must be in whole cents.", code="invalid_amount",
                          param="amount")
    low, high = purchase_limits()
    if not low <= micros <= high:
        raise DomainError(f"Custom amounts go from {format_usd(low, symbol=True)} to "
                          f"{format_usd(high, symbol=True)}.", code="amount_out_of_range",
                          param="amount")
    return micros


def checkout_product_name(amount: int, bonus: int) -> str:
    """The line item's name: Stripe's payment page shows it, so the bonus is seen before paying."""
    name = f"Atelier credits {format_usd(amount, symbol=True)}"
    return f"{name} + {format_usd(bonus, symbol=True)} bonus" if bonus else name


def bonus_description(amount: int, bonus: int, bp: int) -> str:
    if not bonus:
        return f"{format_usd(amount, symbol=True)} of Atelier credits."
    return (f"Includes a +{format_bps(bp)} % bonus of {format_usd(bonus, symbol=True)}: "
            f"{format_usd(amount + bonus, symbol=True)} of credits in total.")


# --- Accounts -----------------------------------------------------------------------------------

def payment_account_for(*, organization) -> PaymentAccount:
    account, _ = PaymentAccount.objects.get_or_create(organization=organization)
    return account


def _ensure_customer(*, client: stripe.StripeClient, account: PaymentAccount, email: str) -> str:
    """The organization's Stripe customer, created once and reused."""
    if account.stripe_customer_id:
        return account.stripe_customer_id
    organization = account.organization
    customer = client.v1.customers.create(
        params={"name": organization.name, "email": email or None,
                "metadata": {"organization_id": str(organization.pk)}},
        options={"idempotency_key": f"customer:{organization.pk}"})
    # A concurrent first purchase may have won the race: keep whichever was stored first.
    PaymentAccount.objects.filter(pk=account.pk, stripe_customer_id="").update(
        stripe_customer_id=customer.id)
    account.refresh_from_db(fields=["stripe_customer_id"])
    return account.stripe_customer_id


# --- Checkout -----------------------------------------------------------------------------------

def checkout_start(*, organization, user=None, pack_id: int | None = None,
                   amount: str | int | None = None) -> Payment:
    """Create a pending Payment and its Stripe Checkout Session (payment mode). Network I/O:
    must not run inside a transaction."""
    client = stripe_client()  # 503 payments_unavailable when Stripe is not configured
    account = payment_account_for(organization=organization)
    if account.purchases_frozen_at:
        raise DomainError("Purchases are frozen for this organization while staff review a "
                          "payment dispute. Contact support.", code="purchases_frozen",
                          status_code=403)
    price = purchase_amount(pack_id=pack_id, amount=amount)
    bonus, bp = bonus_for(price)
    email = getattr(user, "email", "") or ""
    try:
        customer_id = _ensure_customer(client=client, account=account, email=email)
    except stripe.StripeError as error:
        logger.warning("stripe customer create failed for %s: %s", organization.pk, error)
        raise DomainError("Stripe could not be reached; try again in a moment.",
                          code="payments_upstream_error", status_code=502) from None
    payment = Payment.objects.create(organization=organization, amount=price, bonus=bonus,
                                     bonus_bp=bp, created_by=user if getattr(user, "pk", None)
                                     else None)
    base = settings.PUBLIC_BASE_URL
    try:
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "customer": customer_id,
                "client_reference_id": str(payment.pk),
                "success_url": f"{base}/billing/success/?session_id={{CHECKOUT_SESSION_ID}}",
                "cancel_url": f"{base}/billing/cancel/?payment={payment.pk}",
                "line_items": [{
                    "quantity": 1,
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": price // MICROS_PER_CENT,
                        "product_data": {
                            "name": checkout_product_name(price, bonus),
                            "description": bonus_description(price, bonus, bp),
                        },
                    },
                }],
                # Saves the card for auto-recharge (off-session top-ups).
                "payment_intent_data": {
                    "setup_future_usage": "off_session",
                    "metadata": {"organization_id": str(organization.pk),
                                 "payment_id": str(payment.pk)},
                },
                "metadata": {"organization_id": str(organization.pk), "payment_id": str(payment.pk)},
            },
            options={"idempotency_key": f"checkout:{payment.pk}"})
    except stripe.StripeError as error:
        Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.FAILED,
                                                     failure_message=str(error)[:2000])
        logger.warning("stripe checkout create failed for %s: %s", payment.pk, error)
        raise DomainError("Stripe could not start the checkout; try again in a moment.",
                          code="payments_upstream_error", status_code=502) from None
    Payment.objects.filter(pk=payment.pk).update(stripe_checkout_session_id=session.id,
                                                 checkout_url=session.url or "")
    payment.refresh_from_db()
    return payment


def _payment_for_session(session: dict) -> Payment | None:
    payment = Payment.objects.filter(stripe_checkout_session_id=session.get("id")).first()
    if payment is None:
        # The webhook can beat the write of the session id after `sessions.create` returned.
        payment_id = (session.get("metadata") or {}).get("payment_id") \
            or session.get("client_reference_id")
        payment = Payment.objects.filter(pk=payment_id, kind=PaymentKind.CHECKOUT).first() \
            if is_uuid(payment_id) else None
        if payment is not None and not payment.stripe_checkout_session_id:
            Payment.objects.filter(pk=payment.pk, stripe_checkout_session_id__isnull=True).update(
                stripe_checkout_session_id=session["id"])
            payment.refresh_from_db()
    return payment




def checkout_fulfil(*, session: dict) -> Payment | None:
    """Apply what a Checkout Session says, safely any number of times and in any order:
    paid → credit once; complete but unpaid → processing; expired → expired."""
    payment = _payment_for_session(session)
    if payment is None:
        return None
    if session.get("payment_status") in ("paid", "no_payment_required"):
        return payment_fulfil(payment_id=payment.pk,
                              payment_intent_id=session.get("payment_intent"),
                              amount_cents=session.get("amount_total"))
    if session.get("status") == "complete":
        Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(
            status=PaymentStatus.PROCESSING)
    elif session.get("status") == "expired":
        Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(
            status=PaymentStatus.EXPIRED)
    payment.refresh_from_db()
    return payment


def checkout_payment_failed(*, session: dict) -> Payment | None:
    """`checkout.session.async_payment_failed`: the delayed payment did not arrive."""
    payment = _payment_for_session(session)
    if payment is None:
        return None
    Payment.objects.filter(pk=payment.pk, paid_at__isnull=True,
                           status__in=[PaymentStatus.PENDING, PaymentStatus.PROCESSING]).update(
        status=PaymentStatus.FAILED, failure_message="The payment failed.")
    payment.refresh_from_db()
    return payment


def checkout_confirm_return(*, session_id: str) -> Payment | None:
    """The success-page return: ask Stripe about the session (network, outside any transaction)
    and fulfil it if paid. Whichever of this and the webhook comes first credits."""
    payment = Payment.objects.filter(stripe_checkout_session_id=session_id).first()
    if payment is None:
        return None
    if payment.paid_at is None:
        session = stripe_client().v1.checkout.sessions.retrieve(session_id)
        payment = checkout_fulfil(session=plain(session)) or payment
    return payment


# --- Fulfilment and debt ------------------------------------------------------------------------

def payment_fulfil(*, payment_id, payment_intent_id: str | None = None,
                   amount_cents: int | None = None) -> Payment:
    """Credit a paid payment: a purchase entry and a bonus entry, each exactly once, then settle
    outstanding debt. Returns the payment; a second call changes nothing."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.paid_at is not None:
            return payment
        if amount_cents is not None and amount_cents * MICROS_PER_CENT != payment.amount:
            raise ValueError(f"Stripe charged {amount_cents} cents for payment {payment.pk} of "
                             f"{payment.amount} micro-USD; refusing to credit.")
        account = PaymentAccount.objects.select_for_update().get_or_create(
            organization_id=payment.organization_id)[0]
        wallet = Wallet.objects.get(organization_id=payment.organization_id)
        key = payment.ledger_key
        memo = f"Purchase {format_usd(payment.amount, symbol=True)} ({payment.kind})"
        ledger_post(wallet=wallet, kind=EntryKind.PURCHASE, amount=payment.amount,
                    idempotency_key=f"{key}:purchase", reference=key, memo=memo,
                    actor=payment.created_by)
        if payment.bonus:
            ledger_post(wallet=wallet, kind=EntryKind.BONUS, amount=payment.bonus,
                        idempotency_key=f"{key}:bonus", reference=key, actor=payment.created_by,
                        memo=f"Purchase bonus +{format_bps(payment.bonus_bp)} %")
        _debt_settle(account=account, wallet=wallet, key=key)
        payment.status = PaymentStatus.PAID
        payment.paid_at = timezone.now()
        payment.failure_message = ""
        if payment_intent_id and not payment.stripe_payment_intent_id:
            payment.stripe_payment_intent_id = payment_intent_id
        payment.save(update_fields=["status", "paid_at", "failure_message",
                                    "stripe_payment_intent_id"])
        account_changes = {}
        if payment.kind == PaymentKind.AUTO_RECHARGE:
            account_changes["auto_recharge_failures"] = 0
        wallet.refresh_from_db()
        if account.auto_recharge_enabled and wallet.available >= account.auto_recharge_threshold:
            account_changes["auto_recharge_armed"] = True
        if account_changes:
            PaymentAccount.objects.filter(pk=account.pk).update(**account_changes)
        transaction.on_commit(lambda: _enqueue("billing.payments.tasks.send_receipt",
                                               str(payment.pk)))
    return payment


def _enqueue(func: str, *args) -> None:
    from config.queue import enqueue

    enqueue(func, *args)


def _debt_settle(*, account: PaymentAccount, wallet: Wallet, key: str) -> int:
    """Take outstanding debt out of newly landed credits (caller holds the account lock)."""
    account.refresh_from_db(fields=["debt"])
    if account.debt <= 0:
        return 0
    locked = Wallet.objects.select_for_update().get(pk=wallet.pk)
    take = min(account.debt, locked.available)
    if take <= 0:
        return 0
    ledger_post(wallet=locked, kind=EntryKind.CLAWBACK, amount=-take,
                idempotency_key=f"{key}:debt", reference=key,
                memo=f"Settles {format_usd(take, symbol=True)} owed from refunds or disputes")
    PaymentAccount.objects.filter(pk=account.pk).update(debt=F("debt") - take)
    return take


def _claw_back(*, payment: Payment, amount: int, key: str, memo: str) -> tuple[int, int]:
    """Take `amount` from the wallet: as much as is available, the rest as debt.
    Returns (taken, owed). Caller holds the payment lock inside a transaction."""
    account = PaymentAccount.objects.select_for_update().get_or_create(
        organization_id=payment.organization_id)[0]
    wallet = Wallet.objects.select_for_update().get(organization_id=payment.organization_id)
    taken = min(amount, max(wallet.available, 0))
    if taken:
        ledger_post(wallet=wallet, kind=EntryKind.CLAWBACK, amount=-taken, idempotency_key=key,
                    reference=payment.ledger_key, memo=memo)
    owed = amount - taken
    if owed:
        PaymentAccount.objects.filter(pk=account.pk).update(debt=F("debt") + owed)
    return taken, owed


def _restore(*, payment: Payment, amount: int, key: str, memo: str) -> None:
    """Give back `amount` clawed earlier: cancel debt first, credit the rest."""
    account = PaymentAccount.objects.select_for_update().get(organization_id=payment.organization_id)
    forgiven = min(account.debt, amount)
    if forgiven:
        PaymentAccount.objects.filter(pk=account.pk).update(debt=F("debt") - forgiven)
    credit = amount - forgiven
    if credit:
        wallet = Wallet.objects.get(organization_id=payment.organization_id)
        ledger_post(wallet=wallet, kind=EntryKind.ADJUSTMENT, amount=credit, idempotency_key=key,
                    reference=payment.ledger_key, memo=memo)


def _share(payment: Payment, cents: int) -> tuple[int, int]:
    """(credits, bonus) corresponding to `cents` of the payment's charge, proportionally."""
    charged = min(cents * MICROS_PER_CENT, payment.amount)
    return charged, payment.bonus * charged // payment.amount


def _payment_for_charge(obj: dict) -> Payment | None:
    query = Q()
    if obj.get("payment_intent"):
        query |= Q(stripe_payment_intent_id=obj["payment_intent"])
    charge_id = obj.get("charge") if obj.get("object") == "dispute" else obj.get("id")
    if charge_id:
        query |= Q(stripe_charge_id=charge_id)
    return Payment.objects.filter(query).first() if query else None


def charge_refund_record(*, charge: dict) -> Payment:
    """`charge.refunded`: claw back the refunded share of credits and bonus. Stripe reports the
    cumulative `amount_refunded`; each new level claws back only the difference, once."""
    payment = _payment_for_charge(charge)
    if payment is None or payment.paid_at is None:
        raise RetryLater(f"no fulfilled payment for charge {charge.get('id')} yet")
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        refunded_cents = int(charge.get("amount_refunded") or 0)
        refunded = min(refunded_cents * MICROS_PER_CENT, payment.amount)
        if refunded <= payment.amount_refunded:
            return payment  # this refund level (or a later one) was already applied
        credits, bonus = _share(payment, refunded_cents)
        room = payment.credits - payment.refund_clawback - payment.dispute_clawback
        delta = max(0, min(credits + bonus - payment.refund_clawback, room))
        if delta:
            _claw_back(payment=payment, amount=delta,
                       key=f"{payment.ledger_key}:refund:{refunded_cents}",
                       memo=f"Refund of {format_usd(refunded, symbol=True)} in total: claws back "
                            f"the refunded share of credits and bonus")
        payment.amount_refunded = refunded
        payment.refund_clawback += delta
        payment.status = (PaymentStatus.REFUNDED if refunded >= payment.amount
                          else PaymentStatus.PARTIALLY_REFUNDED)
        payment.stripe_charge_id = payment.stripe_charge_id or charge.get("id") or ""
        payment.receipt_url = payment.receipt_url or charge.get("receipt_url") or ""
        payment.save(update_fields=["amount_refunded", "refund_clawback", "status",
                                    "stripe_charge_id", "receipt_url"])
    return payment


def dispute_open(*, dispute: dict) -> Payment:
    """`charge.dispute.created`: claw back the disputed share, freeze purchases, flag for staff."""
    payment = _payment_for_charge(dispute)
    if payment is None or payment.paid_at is None:
        raise RetryLater(f"no fulfilled payment for dispute {dispute.get('id')} yet")
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.stripe_dispute_id:
            return payment
        credits, bonus = _share(payment, int(dispute.get("amount") or 0))
        room = payment.credits - payment.refund_clawback
        amount = max(0, min(credits + bonus, room))
        if amount:
            _claw_back(payment=payment, amount=amount,
                       key=f"{payment.ledger_key}:dispute:{dispute['id']}",
                       memo=f"Dispute {dispute['id']}: credits held back until it is resolved")
        payment.stripe_dispute_id = dispute["id"]
        payment.dispute_clawback = amount
        payment.status = PaymentStatus.DISPUTED
        payment.save(update_fields=["stripe_dispute_id", "dispute_clawback", "status"])
        now = timezone.now()
        PaymentAccount.objects.filter(organization_id=payment.organization_id).update(
            purchases_frozen_at=now, flagged_at=now, auto_recharge_enabled=False,
            auto_recharge_disabled_reason="Purchases frozen by a payment dispute.",
            flag_reason=f"Dispute {dispute['id']} ({dispute.get('reason') or 'no reason'}) on "
                        f"payment {payment.pk} of {format_usd(payment.amount, symbol=True)}")
    return payment


def dispute_close(*, dispute: dict) -> Payment | None:
    """`charge.dispute.closed`: a won dispute gives the held-back credits back, once.
    The purchase freeze stays until staff clear it (they review the flag)."""
    if dispute.get("status") != "won":
        return None
    payment = Payment.objects.filter(stripe_dispute_id=dispute.get("id")).first()
    if payment is None:
        raise RetryLater(f"dispute {dispute.get('id')} has not been opened here yet")
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.dispute_restored_at is not None:
            return payment
        if payment.dispute_clawback:
            _restore(payment=payment, amount=payment.dispute_clawback,
                     key=f"{payment.ledger_key}:dispute:{dispute['id']}:won",
                     memo=f"Dispute {dispute['id']} won: held-back credits restored")
        payment.dispute_restored_at = timezone.now()
        payment.status = (PaymentStatus.PARTIALLY_REFUNDED if payment.amount_refunded
                          else PaymentStatus.PAID)
        payment.save(update_fields=["dispute_restored_at", "status"])
    return payment


def payment_account_unfreeze(*, account: PaymentAccount) -> None:
    """Staff clear a dispute freeze and its flag after review."""
    PaymentAccount.objects.filter(pk=account.pk).update(purchases_frozen_at=None, flagged_at=None)


# --- Webhook events -----------------------------------------------------------------------------

def stripe_event_receive(*, event: dict) -> str:
    """Store a verified event once and run its handler once. Returns the event's final status.
    Redeliveries of a processed event change nothing; a failed one is retried."""
    try:
        with transaction.atomic():
            StripeEvent.objects.create(id=event["id"], type=event.get("type", ""), payload=event)
    except IntegrityError:
        StripeEvent.objects.filter(pk=event["id"]).update(deliveries=F("deliveries") + 1)
    now = timezone.now()
    stale = now - timezone.timedelta(seconds=STALE_PROCESSING_SECONDS)
    claimed = StripeEvent.objects.filter(pk=event["id"]).filter(
        Q(status__in=[EventStatus.RECEIVED, EventStatus.FAILED])
        | Q(status=EventStatus.PROCESSING, updated_at__lt=stale)
    ).update(status=EventStatus.PROCESSING, updated_at=now)
    if not claimed:
        return StripeEvent.objects.values_list("status", flat=True).get(pk=event["id"])
    try:
        handled = _dispatch(event)
    except Exception as error:  # noqa: BLE001 - stored on the event; Stripe redelivers it
        if not isinstance(error, RetryLater):
            logger.exception("stripe event %s failed", event["id"])
        StripeEvent.objects.filter(pk=event["id"]).update(
            status=EventStatus.FAILED, handler_error=f"{type(error).__name__}: {error}"[:4000])
        return EventStatus.FAILED
    status = EventStatus.PROCESSED if handled else EventStatus.IGNORED
    StripeEvent.objects.filter(pk=event["id"]).update(status=status, handler_error="",
                                                      processed_at=timezone.now())
    return status


def _dispatch(event: dict) -> bool:
    """Run the handler for one event; False when the event is not ours to act on."""
    kind = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded",
                "checkout.session.expired"):
        return checkout_fulfil(session=obj) is not None
    if kind == "checkout.session.async_payment_failed":
        return checkout_payment_failed(session=obj) is not None
    if kind == "payment_intent.succeeded":
        payment = _auto_recharge_payment(obj)
        if payment is None:
            return False
        payment_fulfil(payment_id=payment.pk, payment_intent_id=obj.get("id"),
                       amount_cents=obj.get("amount_received") or obj.get("amount"))
        return True
    if kind == "payment_intent.payment_failed":
        payment = _auto_recharge_payment(obj)
        if payment is None:
            return False
        error = obj.get("last_payment_error") or {}
        auto_recharge_failed(payment_id=payment.pk,
                             message=error.get("message") or "The card was declined.")
        return True
    if kind == "charge.refunded":
        charge_refund_record(charge=obj)
        return True
    if kind == "charge.dispute.created":
        dispute_open(dispute=obj)
        return True
    if kind == "charge.dispute.closed":
        return dispute_close(dispute=obj) is not None
    return False


def _auto_recharge_payment(intent: dict) -> Payment | None:
    """Only auto-recharge payments are fulfilled from PaymentIntent events; Checkout payments
    are fulfilled from their session (their intents succeed too, and must not credit twice)."""
    payment_id = (intent.get("metadata") or {}).get("payment_id")
    query = Q(stripe_payment_intent_id=intent.get("id"))
    if is_uuid(payment_id):
        query |= Q(pk=payment_id)
    return Payment.objects.filter(query, kind=PaymentKind.AUTO_RECHARGE).first()


# --- Auto-recharge ------------------------------------------------------------------------------

def auto_recharge_configure(*, organization, enabled: bool, threshold: int | None = None,
                            amount: int | None = None) -> PaymentAccount:
    account = payment_account_for(organization=organization)
    if not enabled:
        PaymentAccount.objects.filter(pk=account.pk).update(auto_recharge_enabled=False)
        account.refresh_from_db()
        return account
    if threshold is None or amount is None:
        raise DomainError("Auto-recharge needs a threshold and an amount.", code="missing_field",
                          param="threshold" if threshold is None else "amount")
    if threshold < 0:
        raise DomainError("The threshold cannot be negative.", code="invalid_field",
                          param="threshold")
    amount = purchase_amount(amount=amount)
    if account.purchases_frozen_at:
        raise DomainError("Purchases are frozen for this organization.", code="purchases_frozen",
                          status_code=403)
    if not account.default_payment_method_id:
        raise Conflict("Buy credits once with a card first: auto-recharge charges the card "
                       "saved by that purchase.", code="no_saved_payment_method")
    PaymentAccount.objects.filter(pk=account.pk).update(
        auto_recharge_enabled=True, auto_recharge_threshold=threshold, auto_recharge_amount=amount,
        auto_recharge_armed=True, auto_recharge_failures=0, auto_recharge_disabled_reason="")
    auto_recharge_check(organization_id=organization.pk)
    account.refresh_from_db()
    return account


def auto_recharge_check(*, organization_id) -> Payment | None:
    """Call after anything lowers available credit (the lead calls it after each capture).
    Database only and cheap. When available falls below the threshold and the trigger is armed,
    disarm it and queue exactly one off-session top-up for this crossing."""
    account = PaymentAccount.objects.filter(
        organization_id=organization_id, auto_recharge_enabled=True,
        purchases_frozen_at__isnull=True).first()
    if account is None:
        return None
    wallet = Wallet.objects.get(organization_id=organization_id)
    if wallet.available >= account.auto_recharge_threshold:
        if not account.auto_recharge_armed:
            PaymentAccount.objects.filter(pk=account.pk, auto_recharge_armed=False).update(
                auto_recharge_armed=True)
        return None
    if not account.auto_recharge_armed:
        return None
    with transaction.atomic():
        # One crossing, one trigger: the conditional update lets exactly one caller through.
        fired = PaymentAccount.objects.filter(
            pk=account.pk, auto_recharge_armed=True, auto_recharge_enabled=True).update(
            auto_recharge_armed=False, auto_recharge_sequence=F("auto_recharge_sequence") + 1)
        if not fired:
            return None
        account.refresh_from_db()
        bonus, bp = bonus_for(account.auto_recharge_amount)
        payment = Payment.objects.create(
            organization_id=organization_id, kind=PaymentKind.AUTO_RECHARGE,
            amount=account.auto_recharge_amount, bonus=bonus, bonus_bp=bp,
            auto_recharge_sequence=account.auto_recharge_sequence)
        transaction.on_commit(lambda: _enqueue("billing.payments.tasks.charge_auto_recharge",
                                               str(payment.pk)))
    return payment


def auto_recharge_charge(*, payment_id) -> Payment:
    """Charge the saved card off-session for one auto-recharge payment (network I/O; run from a
    task). The idempotency key is the payment's, so a redelivered task never charges twice."""
    payment = Payment.objects.select_related("organization").get(pk=payment_id)
    if payment.status != PaymentStatus.PENDING or payment.stripe_payment_intent_id:
        return payment
    account = PaymentAccount.objects.get(organization_id=payment.organization_id)
    if not account.auto_recharge_enabled or account.purchases_frozen_at:
        # Switched off (or frozen by a dispute) between the trigger and this task: no charge,
        # and not a card failure to count.
        Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(
            status=PaymentStatus.FAILED, failure_message="Auto-recharge was off when due.")
        payment.refresh_from_db()
        return payment
    try:
        client = stripe_client()
        intent = plain(client.v1.payment_intents.create(
            params={
                "amount": payment.amount // MICROS_PER_CENT,
                "currency": "usd",
                "customer": account.stripe_customer_id,
                "payment_method": account.default_payment_method_id,
                "off_session": True,
                "confirm": True,
                "description": f"Atelier auto-recharge {format_usd(payment.amount, symbol=True)}",
                "metadata": {"organization_id": str(payment.organization_id),
                             "payment_id": str(payment.pk), "kind": "auto_recharge"},
            },
            options={"idempotency_key": f"autorecharge:{payment.pk}"}))
    except (stripe.StripeError, DomainError) as error:
        message = getattr(error, "user_message", None) or getattr(error, "message", None) \
            or str(error)
        return auto_recharge_failed(payment_id=payment.pk, message=str(message))
    Payment.objects.filter(pk=payment.pk, stripe_payment_intent_id__isnull=True).update(
        stripe_payment_intent_id=intent["id"])
    if intent["status"] == "succeeded":
        # The webhook would credit it too; whichever comes first wins, the other is a no-op.
        return payment_fulfil(payment_id=payment.pk, payment_intent_id=intent["id"],
                              amount_cents=intent.get("amount_received") or intent["amount"])
    if intent["status"] in ("requires_payment_method", "requires_action", "canceled"):
        return auto_recharge_failed(
            payment_id=payment.pk, message=f"The saved card needs attention ({intent['status']}).")
    Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(
        status=PaymentStatus.PROCESSING)
    payment.refresh_from_db()
    return payment


def auto_recharge_failed(*, payment_id, message: str) -> Payment:
    """Record a failed top-up once: count it, tell the owners, disable after repeated failure,
    otherwise re-arm so the next fall below the threshold tries again."""
    with transaction.atomic():
        failed = Payment.objects.filter(
            pk=payment_id, paid_at__isnull=True,
            status__in=[PaymentStatus.PENDING, PaymentStatus.PROCESSING]).update(
            status=PaymentStatus.FAILED, failure_message=message[:2000])
        payment = Payment.objects.get(pk=payment_id)
        if not failed:
            return payment
        account = PaymentAccount.objects.select_for_update().get(
            organization_id=payment.organization_id)
        failures = account.auto_recharge_failures + 1
        changes = {"auto_recharge_failures": failures, "auto_recharge_armed": True}
        if failures >= settings.AUTO_RECHARGE_MAX_FAILURES:
            changes.update(auto_recharge_enabled=False,
                           auto_recharge_disabled_reason=f"Disabled after {failures} failed "
                                                         f"top-ups in a row: {message}"[:2000])
        PaymentAccount.objects.filter(pk=account.pk).update(**changes)
        transaction.on_commit(lambda: _enqueue("billing.payments.tasks.notify_auto_recharge_failed",
                                               str(payment.pk)))
    return payment
