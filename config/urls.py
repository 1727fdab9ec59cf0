from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

import config.openapi  # noqa: F401 - registers the API-key scheme with drf-spectacular
from billing.api import (
    LedgerCsvView,
    LedgerView,
    PricesView,
    PromoRedeemView,
    QuoteView,
    UsageCsvView,
    UsageView,
    WalletView,
)
from billing.payments.urls import api_urlpatterns as payments_api
from generation.api import GenerationCancel, GenerationDetail, GenerationListCreate, image_download
from generation.dedupe.api import DedupePolicyView
from generation.moderation.api import GenerationReview
from generation.moderation.console import credit_adjust_view, staff_dashboard


def health(request):
    return JsonResponse({"status": "ok"})


api_v1 = [
    path("generations", GenerationListCreate.as_view(), name="generations"),
    path("generations/<uuid:job_id>", GenerationDetail.as_view(), name="generation-detail"),
    path("generations/<uuid:job_id>/cancel", GenerationCancel.as_view(),
         name="generation-cancel"),
    path("generations/<uuid:job_id>/review", GenerationReview.as_view(),
         name="generation-review"),
    path("wallet", WalletView.as_view(), name="wallet"),
    path("ledger", LedgerView.as_view(), name="ledger"),
    path("ledger.csv", LedgerCsvView.as_view(), name="ledger-csv"),
    path("usage", UsageView.as_view(), name="usage"),
    path("usage.csv", UsageCsvView.as_view(), name="usage-csv"),
    path("prices", PricesView.as_view(), name="prices"),
    path("quote", QuoteView.as_view(), name="quote"),
    path("promo/redeem", PromoRedeemView.as_view(), name="promo-redeem"),
    # Native API extras (issue 6).
    path("", include("generation.webhooks.urls")),
    path("", include("generation.batches.urls")),
    path("", include("generation.assets.urls")),  # brands and their assets, characters, presets
    path("dedupe", DedupePolicyView.as_view(), name="dedupe-policy"),
    path("schema", SpectacularAPIView.as_view(), name="openapi-schema"),
    *payments_api,  # checkout, payments, credit-packs, auto-recharge
]

urlpatterns = [
    # Staff console pages (generation/moderation/console.py): staff-only, inside the admin.
    path("admin/dashboard/", admin.site.admin_view(staff_dashboard), name="staff-dashboard"),
    path("admin/credits/adjust/", admin.site.admin_view(credit_adjust_view),
         name="staff-credit-adjust"),
    path("admin/", admin.site.urls),
    path("healthz", health, name="health"),
    path("files/<str:token>", image_download, name="image-download"),
    path("api/v1/", include(api_v1)),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="api-docs"),
    path("api/redoc", SpectacularRedocView.as_view(url_name="openapi-schema"), name="api-redoc"),
    path("billing/", include("billing.payments.urls")),  # purchase pages, Stripe webhook
    # OpenAI-compatible /v1/images/* and Gemini-compatible /{v1,v1beta,v1alpha}/models/*.
    path("", include("generation.compat.urls")),
    # The customer dashboard (pages under /app/, auth at /login/, /signup/...): last, so the
    # API and file routes above always win.
    path("", include("config.dashboard_urls")),
]
