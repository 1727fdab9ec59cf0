#!/usr/bin/env python3
"""Screenshots of the dashboard's main pages into docs/screenshots/, for docs/dashboard.md.

    .venv/bin/python scripts/screenshots.py

Builds a throwaway demo (SQLite in a temporary directory: an agency with brands, a team, a
brand budget, a webhook endpoint and a few local-render images), starts the `make run` server
(`config.serve`: uvicorn + qcluster) on a free port with the fake Stripe (tests/fakes) as its
Stripe and a local webhook receiver, and drives Debian's Chromium through the pages with
Playwright, including a purchase on the fake's hosted payment page.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
PASSWORD = "screenshots only"  # noqa: S105 - a throwaway demo database


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_demo(webhook_url: str) -> None:
    """Runs in this process against the temporary database."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from accounts.models import Membership, Role, Scope, User
    from accounts.services import api_key_create, brand_create, invitation_create, organization_create
    from accounts.tenancy import ROLE_SCOPES, Tenant
    from billing.money import parse_usd
    from generation.services import job_run, job_submit

    owner = User.objects.create_user(email="maya@northwind.example", password=PASSWORD,
                                     name="Maya Owner")
    agency = organization_create(name="Northwind Agency", owner=owner, brand_name="Acme Soda",
                                 signup_credits=parse_usd("50"))
    bolt = brand_create(organization=agency, name="Bolt Shoes")
    brand_create(organization=agency, name="Lumen Skincare")
    soda = agency.brands.get(name="Acme Soda")
    for email, role, brands in (("sam@northwind.example", Role.ADMIN, []),
                                ("lee@northwind.example", Role.MEMBER, [soda]),
                                ("vic@northwind.example", Role.VIEWER, [])):
        user = User.objects.create_user(email=email, password=PASSWORD)
        Membership.objects.create(user=user, organization=agency, role=role).brands.set(brands)
    invitation_create(organization=agency, email="new.designer@northwind.example",
                      role=Role.MEMBER, invited_by=owner, brands=[bolt])
    api_key_create(organization=agency, name="production", scopes=[Scope.GENERATE, Scope.READ],
                   created_by=owner)
    api_key_create(organization=agency, name="bolt campaign", brand=bolt,
                   scopes=[Scope.GENERATE], created_by=owner)
    second = User.objects.create_user(email="other@contoso.example", password=PASSWORD)
    contoso = organization_create(name="Contoso Studio", owner=second)
    Membership.objects.create(user=owner, organization=contoso, role=Role.ADMIN)

    tenant = Tenant(organization=agency, scopes=ROLE_SCOPES[Role.OWNER], user=owner,
                    role=Role.OWNER)
    shots = [("a can of cherry soda on a beach at sunset", soda, "gemini-3-pro-image-preview",
              "2K", "16:9"),
             ("a running shoe splashing through a puddle", bolt, "gemini-2.5-flash-image",
              "1K", "4:5"),
             ("minimal skincare bottle on marble, soft light", None, "gemini-3-pro-image-preview",
              "1K", "1:1"),
             ("retro soda poster, bold typography", soda, "gemini-2.5-flash-image", "1K", "2:3"),
             ("trail runner at dawn in the mountains", bolt, "gemini-3-pro-image-preview",
              "1K", "3:2")]
    for prompt, brand, model, tier, ratio in shots:
        job = job_submit(tenant=tenant, model=model, prompt=prompt, image_size=tier,
                         aspect_ratio=ratio, brand_id=brand.pk if brand else None)
        job_run(job_id=job.id)

    from billing.alerts import low_balance_threshold_set
    from billing.spend_caps import spend_cap_set
    from generation.webhooks.services import webhook_endpoint_create, webhook_endpoint_test

    spend_cap_set(brand=soda, limit=parse_usd("200"))
    low_balance_threshold_set(organization=agency, threshold=parse_usd("20"))
    endpoint = webhook_endpoint_create(organization=agency, url=webhook_url,
                                       description="Campaign tracker",
                                       event_types=["generation.succeeded", "generation.failed"])
    webhook_endpoint_test(endpoint=endpoint)  # sent by the server's worker once it starts


def main() -> int:
    workdir = tempfile.mkdtemp(prefix="atelier-shots-")
    port = _free_port()
    env = {**os.environ, "DEBUG": "1", "ATELIER_VAR_DIR": workdir, "PORT": str(port),
           "DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "screenshots-only",
           "Q_WORKERS": "1"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    from tests.fakes.fake_stripe import running_fake_stripe
    from tests.fakes.webhook_receiver import start_receiver

    base = f"http://127.0.0.1:{port}"
    receiver = start_receiver()
    with running_fake_stripe(webhook_url=f"{base}/billing/stripe/webhook/") as stripe:
        env.update({"STRIPE_SECRET_KEY": "sk_test_screenshots", "STRIPE_API_BASE": stripe.api_base,
                    "STRIPE_WEBHOOK_SECRET": stripe.webhook_secret, "PUBLIC_BASE_URL": base,
                    "ALLOW_PRIVATE_WEBHOOK_URLS": "1"})
        os.environ.update(env)
        os.environ.pop("DATABASE_URL", None)
        build_demo(receiver.url)

        server = subprocess.Popen([sys.executable, "-m", "config.serve"], cwd=ROOT, env=env)
        try:
            _wait_for(base + "/healthz")
            _shoot(base)
        finally:
            server.terminate()
            server.wait(timeout=20)
            receiver.close()
    print(f"Screenshots written to {OUT}")
    return 0


def _wait_for(url: str) -> None:
    import httpx

    for _ in range(150):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server did not answer at {url}")


def _shoot(base: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    from scripts.chromium import launch

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.set_default_timeout(30_000)

        def shot(name: str, full_page: bool = True) -> None:
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=full_page)

        page.goto("/signup/")
        shot("signup", full_page=False)
        page.goto("/login/")
        page.fill("#id_username", "maya@northwind.example")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/app/")
        page.wait_for_load_state("networkidle")
        shot("overview")

        page.goto("/app/playground/")
        page.select_option("#model", "gemini-3-pro-image-preview")
        page.select_option("#image_size", "2K")
        page.select_option("#aspect_ratio", "16:9")
        page.fill("#prompt", "a lighthouse at dawn, watercolor")
        expect(page.get_by_test_id("price")).to_have_text("$0.134")
        page.click("#generate")
        expect(page.get_by_test_id("job-status")).to_have_text("succeeded")
        page.wait_for_function(
            "document.querySelector('[data-testid=result-image]')?.naturalWidth > 0")
        shot("playground")

        for name, path in (("gallery", "/app/gallery/"), ("usage", "/app/usage/"),
                           ("team", "/app/team/"), ("brands", "/app/brands/"),
                           ("api-keys", "/app/keys/")):
            page.goto(path)
            page.wait_for_load_state("networkidle")
            page.wait_for_function("[...document.images].every(i => i.complete)")
            shot(name)

        page.goto("/app/gallery/")
        page.click("#gallery .tile >> nth=0")
        page.wait_for_load_state("networkidle")
        shot("job-detail")

        page.goto("/app/brands/")
        page.click("#brands >> text=Edit >> nth=0")
        shot("brand-budget")

        page.goto("/app/keys/")
        page.fill("#id_name", "staging")
        page.click("#new-key button[type=submit]")
        shot("api-key-created", full_page=False)

        # Buying credits: the billing page, the fake Stripe's hosted page, the return.
        page.goto("/app/billing/")
        page.fill("#amount", "250")
        expect(page.get_by_test_id("bonus-preview")).to_contain_text("$275.00")
        shot("billing-buy", full_page=False)
        page.click("#packs >> text=Buy $100.00")
        page.wait_for_url("**/pay/**")
        page.click("button:has-text('Pay')")
        page.wait_for_url("**/billing/success/**")
        shot("billing-success", full_page=False)
        page.goto("/app/billing/")
        shot("billing")

        page.goto("/app/webhooks/")
        shot("webhooks")
        page.click("#endpoints a >> nth=0")
        page.click("button[value=test]")
        for _ in range(40):  # the server's worker sends the pings
            if "pending" not in page.locator("#deliveries").inner_text():
                break
            time.sleep(0.5)
            page.reload()
        shot("webhook-detail")
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
