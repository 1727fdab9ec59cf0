"""The customer dashboard's pages (server-rendered), under /app/ plus the auth pages."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy
from django.views.generic import RedirectView

from accounts import views as accounts
from billing import views as billing
from generation import views as generation
from generation.webhooks import views as webhooks

app_name = "dashboard"

_reset_done = reverse_lazy("dashboard:password_reset_done")
_reset_complete = reverse_lazy("dashboard:password_reset_complete")

urlpatterns = [
    path("", RedirectView.as_view(url="/app/", permanent=False), name="root"),
    path("signup/", accounts.signup, name="signup"),
    path("login/", auth_views.LoginView.as_view(template_name="dashboard/login.html",
                                                redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(
        template_name="dashboard/password_reset.html",
        email_template_name="dashboard/email/password_reset.txt",
        subject_template_name="dashboard/email/password_reset_subject.txt",
        success_url=_reset_done), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(
        template_name="dashboard/password_reset_done.html"), name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        template_name="dashboard/password_reset_confirm.html", success_url=_reset_complete),
        name="password_reset_confirm"),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(
        template_name="dashboard/password_reset_complete.html"), name="password_reset_complete"),
    path("invite/<str:token>/", accounts.invitation, name="invitation"),

    path("app/", generation.overview, name="home"),
    path("app/organization", accounts.organization_switch, name="organization_switch"),
    path("app/team/", accounts.team, name="team"),
    path("app/team/<int:membership_id>/", accounts.member_edit, name="member_edit"),
    path("app/team/<int:membership_id>/remove", accounts.member_remove, name="member_remove"),
    path("app/team/invitations/<int:invitation_id>/revoke", accounts.invitation_revoke,
         name="invitation_revoke"),
    path("app/brands/", accounts.brands, name="brands"),
    path("app/brands/<uuid:brand_id>/", accounts.brand_edit, name="brand_edit"),
    path("app/keys/", accounts.api_keys, name="keys"),
    path("app/keys/<uuid:key_id>/revoke", accounts.api_key_revoke, name="key_revoke"),
    path("app/playground/", generation.playground, name="playground"),
    path("app/playground/quote", generation.playground_quote, name="playground_quote"),
    path("app/playground/submit", generation.playground_submit, name="playground_submit"),
    path("app/gallery/", generation.gallery, name="gallery"),
    path("app/jobs/<uuid:job_id>/", generation.job_detail, name="job_detail"),
    path("app/jobs/<uuid:job_id>/status", generation.job_status, name="job_status"),
    path("app/jobs/<uuid:job_id>/review", generation.job_review, name="job_review"),
    path("app/images/<uuid:image_id>/thumbnail", generation.image_thumbnail, name="thumbnail"),
    path("app/usage/", generation.usage_page, name="usage"),
    path("app/usage.csv", generation.usage_csv, name="usage_csv"),
    path("app/billing/", billing.billing_page, name="billing"),
    path("app/billing/bonus", billing.bonus_preview, name="billing_bonus"),
    path("app/webhooks/", webhooks.webhooks, name="webhooks"),
    path("app/webhooks/<uuid:endpoint_id>/", webhooks.webhook_detail, name="webhook_detail"),
]
