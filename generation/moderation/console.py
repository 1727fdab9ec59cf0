"""Staff console pages mounted inside the admin (config/urls.py wraps them in
`admin.site.admin_view`, so only active staff reach them)."""

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.models import Organization
from billing.models import Wallet
from billing.money import format_usd, parse_usd
from config.errors import DomainError
from config.ids import is_uuid
from generation.moderation import charts
from generation.moderation.selectors import dashboard_metrics
from generation.moderation.services import credit_adjust

WINDOWS = {"1": 1, "24": 24, "168": 168, "720": 720}
ADJUST_PERMISSION = "billing.add_ledgerentry"


def staff_dashboard(request):
    hours = WINDOWS.get(request.GET.get("hours", "24"), 24)
    metrics = dashboard_metrics(hours=hours)
    states = ["succeeded", "running", "queued", "failed", "blocked", "canceled"]
    context = {
        **admin.site.each_context(request),
        "title": "Staff dashboard",
        "m": metrics,
        "windows": [("1", "1 hour"), ("24", "24 hours"), ("168", "7 days"), ("720", "30 days")],
        "usd": {key: format_usd(metrics[key], symbol=True)
                for key in ("revenue", "spent", "charged_price", "google_cost", "margin")},
        "states": [(state, metrics["jobs_by_state"].get(state, 0), charts.STATE_COLORS[state])
                   for state in states],
        "jobs_chart": charts.bars(metrics["jobs_per_minute"], keys=states,
                                  colors=charts.STATE_COLORS,
                                  title="Jobs per minute by state, last hour"),
        "money_chart": charts.bars(
            metrics["money_per_day"], keys=["purchase", "capture"], grouped=True, label_every=2,
            colors={"purchase": "#2e7d32", "capture": "#1565c0"},
            value_format=lambda micros: format_usd(micros, symbol=True),
            title="Purchases and credits spent per day, last 14 days"),
        "orgs_chart": charts.horizontal_bars(
            [(row["wallet__organization__name"], row["spent"],
              f'{format_usd(row["spent"], symbol=True)} · {row["jobs"]} jobs')
             for row in metrics["top_organizations"]],
            title="Top organizations by credits spent"),
    }
    return TemplateResponse(request, "staff/dashboard.html", context)


class CreditAdjustmentForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.order_by("name"))
    direction = forms.ChoiceField(choices=[("grant", "Grant (add credits)"),
                                           ("debit", "Debit (remove credits)")])
    amount = forms.CharField(help_text="US dollars, e.g. 25 or 0.50")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}),
                             error_messages={"required": "A reason is required."},
                             help_text="Required; shown in the ledger and the audit log.")
    token = forms.CharField(widget=forms.HiddenInput)

    def clean_amount(self):
        try:
            micros = parse_usd(self.cleaned_data["amount"])
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
        if micros <= 0:
            raise forms.ValidationError("The amount must be more than zero.")
        return micros

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason


def credit_adjust_view(request):
    """Grant or debit credits by hand: one `adjustment` ledger entry with the staff member as
    actor. Needs the permission to add ledger entries."""
    if not request.user.has_perm(ADJUST_PERMISSION):
        raise PermissionDenied
    if request.method == "POST":
        form = CreditAdjustmentForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            amount = data["amount"] if data["direction"] == "grant" else -data["amount"]
            try:
                entry = credit_adjust(organization=data["organization"], amount=amount,
                                      reason=data["reason"], actor=request.user,
                                      token=data["token"])
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"Posted {format_usd(entry.amount, symbol=True)} to "
                                          f"{data['organization']}; balance now "
                                          f"{format_usd(entry.balance_after, symbol=True)}.")
                changelist = reverse("admin:billing_ledgerentry_changelist")
                return HttpResponseRedirect(f"{changelist}?wallet__id__exact={entry.wallet_id}")
    else:
        initial = {"token": uuid.uuid4().hex, "direction": "grant"}
        organization = request.GET.get("organization")
        if organization:
            initial["organization"] = organization
        form = CreditAdjustmentForm(initial=initial)
    wallet = None
    if form["organization"].value():
        wallet = Wallet.objects.filter(organization_id=form["organization"].value()).first() \
            if is_uuid(form["organization"].value()) else None
    context = {**admin.site.each_context(request), "title": "Credit adjustment", "form": form,
               "wallet": wallet,
               "available": format_usd(wallet.available, symbol=True) if wallet else None}
    return TemplateResponse(request, "staff/credit_adjust.html", context)


