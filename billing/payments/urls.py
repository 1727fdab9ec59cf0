from django.urls import path

from billing import views as billing_views
from billing.payments import api, views

app_name = "payments"

# Mounted at /billing/.
urlpatterns = [
    path("buy/", billing_views.buy, name="buy"),  # a dashboard page
    path("success/", views.checkout_success, name="success"),
    path("cancel/", views.checkout_cancel, name="cancel"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe-webhook"),
]

# Mounted under /api/v1/.
api_urlpatterns = [
    path("checkout", api.CheckoutView.as_view(), name="checkout"),
    path("payments", api.PaymentList.as_view(), name="payments"),
    path("credit-packs", api.CreditPackList.as_view(), name="credit-packs"),
    path("auto-recharge", api.AutoRechargeView.as_view(), name="auto-recharge"),
]
