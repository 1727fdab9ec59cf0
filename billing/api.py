from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from accounts.tenancy import tenant_of
from billing import selectors
from billing.money import money
from billing.schema import LedgerOut, WalletOut


class WalletView(APIView):
    @extend_schema(responses=WalletOut, tags=["billing"])
    def get(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.READ)
        wallet = selectors.wallet_of(organization=tenant.organization)
        return Response({
            "object": "wallet",
            "organization": str(tenant.organization.pk),
            "balance": money(wallet.balance),
            "reserved": money(wallet.reserved),
            "available": money(wallet.available),
        })


class LedgerView(APIView):
    @extend_schema(responses=LedgerOut, tags=["billing"])
    def get(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.READ)
        entries = selectors.ledger_of(organization=tenant.organization)
        return Response({"object": "list", "data": [
            {
                "id": entry.pk,
                "kind": entry.kind,
                "amount": money(entry.amount),
                "balance_after": money(entry.balance_after),
                "reference": entry.reference,
                "brand": str(entry.brand_id) if entry.brand_id else None,
                "memo": entry.memo,
                "created_at": entry.created_at.isoformat(),
            }
            for entry in entries
        ]})
