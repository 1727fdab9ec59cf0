from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path

from billing.api import LedgerView, WalletView
from generation.api import GenerationCancel, GenerationDetail, GenerationListCreate, image_download


def health(request):
    return JsonResponse({"status": "ok"})


api_v1 = [
    path("generations", GenerationListCreate.as_view(), name="generations"),
    path("generations/<uuid:job_id>", GenerationDetail.as_view(), name="generation-detail"),
    path("generations/<uuid:job_id>/cancel", GenerationCancel.as_view(),
         name="generation-cancel"),
    path("wallet", WalletView.as_view(), name="wallet"),
    path("ledger", LedgerView.as_view(), name="ledger"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health, name="health"),
    path("files/<str:token>", image_download, name="image-download"),
    path("api/v1/", include(api_v1)),
    # OpenAI-compatible /v1/images/* and Gemini-compatible /{v1,v1beta,v1alpha}/models/*.
    path("", include("generation.compat.urls")),
]
