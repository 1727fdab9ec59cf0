"""`/api/v1/webhooks`: endpoints (CRUD, secret rotation, test ping), delivery log, resend."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.idempotency.decorators import IDEMPOTENCY_HEADER, idempotent
from accounts.models import Scope
from accounts.tenancy import tenant_of
from generation.webhooks import selectors, services
from generation.webhooks.services import SUBSCRIBABLE_EVENTS


class EndpointInput(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    event_types = serializers.ListField(child=serializers.ChoiceField(SUBSCRIBABLE_EVENTS),
                                        required=False, default=list,
                                        help_text="Empty: every event.")
    description = serializers.CharField(max_length=200, required=False, default="",
                                        allow_blank=True)
    enabled = serializers.BooleanField(required=False, default=True)


class EndpointOutput(serializers.Serializer):
    id = serializers.UUIDField()
    object = serializers.CharField(default="webhook_endpoint")
    url = serializers.CharField()
    event_types = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()
    enabled = serializers.BooleanField()
    failing_since = serializers.DateTimeField(allow_null=True)
    disabled_at = serializers.DateTimeField(allow_null=True,
                                            help_text="Set when we disabled it after days of "
                                                      "failures; PATCH enabled=true to resume.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class EndpointWithSecret(EndpointOutput):
    secret = serializers.CharField(help_text="whsec_…: shown on creation and rotation only.")


class AttemptOutput(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    latency_ms = serializers.IntegerField(allow_null=True)
    response_excerpt = serializers.CharField()
    error = serializers.CharField()


class DeliveryOutput(serializers.Serializer):
    id = serializers.UUIDField()
    object = serializers.CharField(default="webhook_delivery")
    endpoint = serializers.UUIDField(source="endpoint_id")
    message_id = serializers.CharField(source="message.pk")
    event_type = serializers.CharField(source="message.event_type")
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    attempt_log = AttemptOutput(many=True)


def _admin(request):
    tenant = tenant_of(request)
    tenant.require(Scope.ADMIN)
    return tenant


class WebhookListCreate(APIView):
    @extend_schema(responses=EndpointOutput(many=True), tags=["webhooks"])
    def get(self, request):
        endpoints = selectors.endpoints_of(_admin(request))
        return Response({"object": "list", "data": EndpointOutput(endpoints, many=True).data})

    @extend_schema(request=EndpointInput, responses={201: EndpointWithSecret},
                   parameters=[IDEMPOTENCY_HEADER], tags=["webhooks"])
    @idempotent
    def post(self, request):
        tenant = _admin(request)
        selectors.endpoints_of(tenant)  # refuses brand-bound keys
        data = EndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_create(organization=tenant.organization,
                                                    **data.validated_data)
        return Response(EndpointWithSecret(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetail(APIView):
    @extend_schema(responses=EndpointOutput, tags=["webhooks"])
    def get(self, request, endpoint_id):
        endpoint = selectors.endpoint_for(tenant=_admin(request), endpoint_id=endpoint_id)
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(request=EndpointInput(partial=True), responses=EndpointOutput, tags=["webhooks"])
    def patch(self, request, endpoint_id):
        endpoint = selectors.endpoint_for(tenant=_admin(request), endpoint_id=endpoint_id)
        data = EndpointInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = {key: value for key, value in data.validated_data.items() if key in request.data}
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, **changes)
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(responses={204: None}, tags=["webhooks"])
    def delete(self, request, endpoint_id):
        endpoint = selectors.endpoint_for(tenant=_admin(request), endpoint_id=endpoint_id)
        services.webhook_endpoint_delete(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecret(APIView):
    @extend_schema(request=None, responses=EndpointWithSecret, parameters=[IDEMPOTENCY_HEADER],
                   tags=["webhooks"])
    @idempotent
    def post(self, request, endpoint_id):
        endpoint = selectors.endpoint_for(tenant=_admin(request), endpoint_id=endpoint_id)
        endpoint = services.webhook_secret_rotate(endpoint=endpoint)
        return Response(EndpointWithSecret(endpoint).data)


class WebhookTest(APIView):
    @extend_schema(request=None, responses={202: DeliveryOutput}, parameters=[IDEMPOTENCY_HEADER],
                   tags=["webhooks"])
    @idempotent
    def post(self, request, endpoint_id):
        endpoint = selectors.endpoint_for(tenant=_admin(request), endpoint_id=endpoint_id)
        delivery = services.webhook_endpoint_test(endpoint=endpoint)
        return Response(DeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveries(APIView):
    @extend_schema(responses=DeliveryOutput(many=True), tags=["webhooks"])
    def get(self, request, endpoint_id):
        endpoint = selectors.endpoint_for(tenant=_admin(request), endpoint_id=endpoint_id)
        deliveries = selectors.deliveries_of(endpoint=endpoint)[:100]
        return Response({"object": "list", "data": DeliveryOutput(deliveries, many=True).data})


class WebhookDeliveryResend(APIView):
    @extend_schema(request=None, responses={202: DeliveryOutput}, parameters=[IDEMPOTENCY_HEADER],
                   tags=["webhooks"])
    @idempotent
    def post(self, request, delivery_id):
        delivery = selectors.delivery_for(tenant=_admin(request), delivery_id=delivery_id)
        fresh = services.webhook_delivery_resend(delivery=delivery)
        return Response(DeliveryOutput(fresh).data, status=status.HTTP_202_ACCEPTED)
