from django.urls import path

from generation.batches import api

urlpatterns = [
    path("batches", api.BatchListCreate.as_view(), name="batches"),
    path("batches/<uuid:batch_id>", api.BatchDetail.as_view(), name="batch-detail"),
    path("batches/<uuid:batch_id>/cancel", api.BatchCancel.as_view(), name="batch-cancel"),
]
