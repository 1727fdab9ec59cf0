"""Form fields for money: staff type dollars, the database keeps integer micro-USD."""

from django import forms

from billing.money import format_usd, parse_usd


class UsdField(forms.CharField):
    """'0.134' in the form <-> 134_000 in the model. Never a float on the way."""

    def __init__(self, *args, **kwargs):
        for numeric_only in ("min_value", "max_value", "step_size", "max_length"):
            kwargs.pop(numeric_only, None)
        kwargs.setdefault("help_text", "US dollars, up to 6 decimals")
        super().__init__(*args, **kwargs)

    def prepare_value(self, value):
        return format_usd(value) if isinstance(value, int) and not isinstance(value, bool) else value

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return parse_usd(value)
        except ValueError as error:
            raise forms.ValidationError(
                "Enter dollars, e.g. 12.50 (at most 6 decimals).") from error
