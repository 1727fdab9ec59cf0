from django import forms
from django.contrib.auth.password_validation import validate_password

from accounts.models import Role, Scope


class SignupForm(forms.Form):
    email = forms.EmailField()
    password = forms.CharField(widget=forms.PasswordInput, min_length=8)
    organization = forms.CharField(max_length=200, label="Organization or agency name")

    def clean_password(self):
        password = self.cleaned_data["password"]
        validate_password(password)
        return password


class JoinForm(forms.Form):
    """Create an account while accepting an invitation (the email comes from the invitation)."""

    name = forms.CharField(max_length=150, required=False)
    password = forms.CharField(widget=forms.PasswordInput, min_length=8)

    def clean_password(self):
        password = self.cleaned_data["password"]
        validate_password(password)
        return password


class BrandForm(forms.Form):
    name = forms.CharField(max_length=200)


def _brand_choices(brands):
    return [(str(brand.pk), brand.name) for brand in brands]


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)
    brands = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                       help_text="Members and viewers: leave empty for all brands.")

    def __init__(self, *args, brands=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["brands"].choices = _brand_choices(brands)


class MembershipForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    brands = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, brands=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["brands"].choices = _brand_choices(brands)


EXPIRY_CHOICES = [("", "Never"), ("7", "7 days"), ("30", "30 days"), ("90", "90 days"),
                  ("365", "1 year")]


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100)
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple,
                                       initial=[Scope.GENERATE, Scope.READ])
    brand = forms.ChoiceField(required=False, label="Bound to brand")
    expires_in_days = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")

    def __init__(self, *args, brands=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["brand"].choices = [("", "Any brand"), *_brand_choices(brands)]
