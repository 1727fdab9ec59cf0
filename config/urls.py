from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path

from billing.api import LedgerView, WalletView
from billing.payments.urls import api_urlpatterns as payments_api
from generation.api import GenerationCancel, GenerationDetail, GenerationListCreate, image_download
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
    path("billing/", include("billing.payments.urls")),  # purchase pages, Stripe webhook
]
