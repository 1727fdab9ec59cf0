"""`/api/v1/dedupe`: read and set the dedupe-cache opt-in of the organization or one brand."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from accounts.tenancy import tenant_of
from billing.money import money
from generation.dedupe.models import DedupePolicy
from generation.dedupe.services import dedupe_policy_set
from generation.services import _brand_for


class DedupeInput(serializers.Serializer):
    brand = serializers.UUIDField(required=False, allow_null=True,
                                  help_text="Set a brand's policy; omitted: the organization's.")
    enabled = serializers.BooleanField()
    window_seconds = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                              max_value=90 * 86400)
    cache_price_micros = serializers.IntegerField(required=False, allow_null=True, min_value=0)


def _policy_data(policy: DedupePolicy | None, brand) -> dict:
    window = (policy.window_seconds if policy else None) or settings.DEDUPE_DEFAULT_WINDOW_SECONDS
    price = settings.DEDUPE_CACHE_PRICE_MICROS if policy is None or policy.cache_price is None \
        else policy.cache_price
    return {"object": "dedupe_policy", "brand": str(brand.pk) if brand else None,
            "enabled": bool(policy and policy.enabled), "window_seconds": window,
            "cache_price": money(price)}


class DedupePolicyView(APIView):
    @extend_schema(parameters=[OpenApiParameter("brand", OpenApiTypes.UUID)],
                   responses=OpenApiTypes.OBJECT, tags=["dedupe"])
    def get(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.READ)
        brand = _brand_for(tenant, request.query_params.get("brand") or None)
        policy = DedupePolicy.objects.filter(organization=tenant.organization, brand=brand).first()
        return Response(_policy_data(policy, brand))

    @extend_schema(request=DedupeInput, responses=OpenApiTypes.OBJECT, tags=["dedupe"])
    def put(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.ADMIN)
        data = DedupeInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        brand = _brand_for(tenant, values.get("brand"))
        policy = dedupe_policy_set(organization=tenant.organization, brand=brand,
                                   enabled=values["enabled"],
                                   window_seconds=values.get("window_seconds"),
                                   cache_price=values.get("cache_price_micros"))
        return Response(_policy_data(policy, brand))
