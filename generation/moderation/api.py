"""Customer side of moderation: ask for a review of a blocked generation."""

from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from accounts.tenancy import tenant_of
from generation.moderation import selectors
from generation.moderation.services import case_request_review
from generation.serializers import job_data


class ReviewRequestSerializer(serializers.Serializer):
    message = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class GenerationReview(APIView):
    """`POST /api/v1/generations/{id}/review`: the case returns to the staff queue."""

    def post(self, request, job_id):
        tenant = tenant_of(request)
        tenant.require(Scope.GENERATE)
        serializer = ReviewRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        case = selectors.case_for_review(tenant=tenant, job_id=job_id)
        case_request_review(case=case, tenant=tenant,
                            message=serializer.validated_data.get("message", ""))
        return Response(job_data(case.job, request))
