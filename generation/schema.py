"""Response shapes for the OpenAPI schema only: the views render plain dicts (job_data...), and
these serializers describe them so that generated clients and the docs page are useful."""

from rest_framework import serializers

from billing.schema import MoneyOut


class ImageOut(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.URLField(allow_null=True, help_text="Signed, expiring; null once expired.")
    url_expires_at = serializers.DateTimeField(allow_null=True)
    expired = serializers.BooleanField(help_text="Deleted by the retention policy.")
    mime_type = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    size_bytes = serializers.IntegerField()


class JobErrorOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class GenerationOut(serializers.Serializer):
    id = serializers.UUIDField()
    object = serializers.CharField(default="generation")
    status = serializers.ChoiceField(["queued", "running", "succeeded", "failed", "blocked",
                                      "canceled"])
    model = serializers.CharField()
    prompt = serializers.CharField()
    image_size = serializers.CharField()
    aspect_ratio = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    seed = serializers.IntegerField(allow_null=True)
    grounding = serializers.BooleanField()
    brand = serializers.UUIDField(allow_null=True)
    price = MoneyOut()
    price_breakdown = serializers.ListField(child=serializers.DictField())
    attempts = serializers.IntegerField()
    local_render = serializers.BooleanField()
    text = serializers.CharField(allow_null=True)
    cached = serializers.BooleanField(help_text="Served from the dedupe cache.")
    cached_from = serializers.UUIDField(allow_null=True)
    error = JobErrorOut(allow_null=True)
    images = ImageOut(many=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class GenerationPage(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = GenerationOut(many=True)
    has_more = serializers.BooleanField()
    next_cursor = serializers.CharField(allow_null=True)


class BatchItemOut(serializers.Serializer):
    index = serializers.IntegerField()
    custom_id = serializers.CharField(allow_null=True)
    generation = GenerationOut()


class BatchOut(serializers.Serializer):
    id = serializers.UUIDField()
    object = serializers.CharField(default="batch")
    status = serializers.ChoiceField(["processing", "completed", "canceled"])
    total = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField(),
                                   help_text="Items per generation status.")
    price = MoneyOut()
    brand = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()
    cancel_requested_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    items = BatchItemOut(many=True, required=False, help_text="Detail only.")


class BatchPage(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = BatchOut(many=True)
    has_more = serializers.BooleanField()
    next_cursor = serializers.CharField(allow_null=True)


class ErrorBody(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    param = serializers.CharField(allow_null=True)


class ErrorOut(serializers.Serializer):
    error = ErrorBody()


ERRORS = {status: ErrorOut for status in (400, 401, 402, 403, 404, 409, 413, 429)}
