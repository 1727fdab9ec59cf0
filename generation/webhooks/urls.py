from django.urls import path

from generation.webhooks import api

urlpatterns = [
    path("webhooks", api.WebhookListCreate.as_view(), name="webhooks"),
    path("webhooks/<uuid:endpoint_id>", api.WebhookDetail.as_view(), name="webhook-detail"),
    path("webhooks/<uuid:endpoint_id>/rotate-secret", api.WebhookRotateSecret.as_view(),
         name="webhook-rotate-secret"),
    path("webhooks/<uuid:endpoint_id>/test", api.WebhookTest.as_view(), name="webhook-test"),
    path("webhooks/<uuid:endpoint_id>/deliveries", api.WebhookDeliveries.as_view(),
         name="webhook-deliveries"),
    path("webhooks/deliveries/<uuid:delivery_id>/resend", api.WebhookDeliveryResend.as_view(),
         name="webhook-delivery-resend"),
]
