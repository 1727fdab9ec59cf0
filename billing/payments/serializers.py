from rest_framework import serializers

from billing.money import money
from billing.payments.models import Payment, PaymentAccount


class CheckoutInput(serializers.Serializer):
    pack = serializers.IntegerField(required=False, min_value=1)
    amount = serializers.CharField(required=False, max_length=20)


class AutoRechargeInput(serializers.Serializer):
    enabled = serializers.BooleanField()
    threshold = serializers.CharField(required=False, max_length=20)
    amount = serializers.CharField(required=False, max_length=20)


def payment_out(payment: Payment) -> dict:
    return {
        "object": "payment",
        "id": str(payment.pk),
        "kind": payment.kind,
        "status": payment.status,
        "amount": money(payment.amount),
        "bonus": money(payment.bonus),
        "credits": money(payment.credits),
        "amount_refunded": money(payment.amount_refunded),
        "clawed_back": money(payment.refund_clawback + payment.dispute_clawback
                             if payment.dispute_restored_at is None else payment.refund_clawback),
        "receipt_url": payment.receipt_url or None,
        "checkout_url": (payment.checkout_url or None) if payment.status == "pending" else None,
        "created_at": payment.created_at.isoformat(),
        "paid_at": payment.paid_at.isoformat() if payment.paid_at else None,
    }


def auto_recharge_out(account: PaymentAccount | None) -> dict:
    return {
        "object": "auto_recharge",
        "enabled": bool(account and account.auto_recharge_enabled),
        "threshold": money(account.auto_recharge_threshold if account else 0),
        "amount": money(account.auto_recharge_amount if account else 0),
        "has_saved_card": bool(account and account.default_payment_method_id),
        "consecutive_failures": account.auto_recharge_failures if account else 0,
        "disabled_reason": (account.auto_recharge_disabled_reason or None) if account else None,
    }
