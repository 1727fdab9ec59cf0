from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

import config.openapi  # noqa: F401 - registers the API-key scheme with drf-spectacular
from billing.api import LedgerView, WalletView
from generation.api import GenerationCancel, GenerationDetail, GenerationListCreate, image_download
from generation.dedupe.api import DedupePolicyView


def health(request):
    return JsonResponse({"status": "ok"})


api_v1 = [
    path("generations", GenerationListCreate.as_view(), name="generations"),
    path("generations/<uuid:job_id>", GenerationDetail.as_view(), name="generation-detail"),
    path("generations/<uuid:job_id>/cancel", GenerationCancel.as_view(),
         name="generation-cancel"),
    path("wallet", WalletView.as_view(), name="wallet"),
    path("ledger", LedgerView.as_view(), name="ledger"),
    # Native API extras (issue 6).
    path("", include("generation.webhooks.urls")),
    path("", include("generation.batches.urls")),
    path("dedupe", DedupePolicyView.as_view(), name="dedupe-policy"),
    path("schema", SpectacularAPIView.as_view(), name="openapi-schema"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health, name="health"),
    path("files/<str:token>", image_download, name="image-download"),
    path("api/v1/", include(api_v1)),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="api-docs"),
    path("api/redoc", SpectacularRedocView.as_view(url_name="openapi-schema"), name="api-redoc"),
]
