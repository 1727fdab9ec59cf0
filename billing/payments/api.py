"""`POST /api/v1/checkout`, `GET /api/v1/payments`, `GET /api/v1/credit-packs`,
`GET|PUT /api/v1/auto-recharge`. Thin: validate, call one service, render."""

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from accounts.tenancy import tenant_of
from billing.money import format_bps, money, parse_usd
from billing.payments import selectors, services
from billing.payments.gateway import stripe_configured
from billing.payments.serializers import (
    AutoRechargeInput,
    CheckoutInput,
    auto_recharge_out,
    payment_out,
)
from config.errors import DomainError


def _buyer(tenant):
    if tenant.user is not None:
        return tenant.user
    return tenant.api_key.created_by if tenant.api_key is not None else None


class CheckoutView(APIView):
    def post(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.BILLING)
        data = CheckoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        payment = services.checkout_start(
            organization=tenant.organization, user=_buyer(tenant),
            pack_id=data.validated_data.get("pack"), amount=data.validated_data.get("amount"))
        return Response({
            "object": "checkout_session",
            "id": payment.stripe_checkout_session_id,
            "url": payment.checkout_url,
            "payment": payment_out(payment),
            "amount": money(payment.amount),
            "bonus": money(payment.bonus),
            "bonus_percent": f"{format_bps(payment.bonus_bp)}",
            "credits": money(payment.credits),
            "description": services.bonus_description(payment.amount, payment.bonus,
                                                      payment.bonus_bp),
        }, status=status.HTTP_201_CREATED)


class CreditPackList(APIView):
    def get(self, request):
        tenant_of(request).require(Scope.READ)
        low, high = services.purchase_limits()
        packs = []
        for pack in selectors.credit_packs_active():
            bonus, bp = services.bonus_for(pack.amount)
            packs.append({"id": pack.pk, "name": pack.name, "amount": money(pack.amount),
                          "bonus": money(bonus), "bonus_percent": f"{format_bps(bp)}",
                          "credits": money(pack.amount + bonus)})
        return Response({
            "object": "list", "data": packs, "payments_available": stripe_configured(),
            "custom_amount": {"min": money(low), "max": money(high)},
            "bonus_rules": [{"min_amount": money(rule.min_amount),
                             "bonus_percent": f"{format_bps(rule.bonus_bp)}"}
                            for rule in selectors.bonus_rules_active()],
        })


class PaymentList(APIView):
    def get(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.BILLING)
        payments = selectors.payments_of(organization=tenant.organization)
        return Response({"object": "list", "data": [payment_out(p) for p in payments]})


class AutoRechargeView(APIView):
    def get(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.BILLING)
        return Response(auto_recharge_out(
            selectors.payment_account_of(organization=tenant.organization)))

    def put(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.BILLING)
        data = AutoRechargeInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        account = services.auto_recharge_configure(
            organization=tenant.organization, enabled=values["enabled"],
            threshold=_usd(values.get("threshold"), "threshold"),
            amount=_usd(values.get("amount"), "amount"))
        return Response(auto_recharge_out(account))


def _usd(text: str | None, param: str) -> int | None:
    if text is None:
        return None
    try:
        return parse_usd(text)
    except ValueError:
        raise DomainError("Give a number of US dollars, like 20 or 20.50.",
                          code="invalid_amount", param=param) from None
