"""With the shared cache on (production), submits reuse prices, pre-filter rules and an
organization's terms between requests, and any change to them applies to the very next
request. Each test first submits once so that the old data is memoized."""

from datetime import timedelta

from django.utils import timezone

from accounts.models import ApiKey, Brand
from billing.models import (
    OrganizationDiscount,
    PriceItem,
    PriceList,
    PriceOverride,
    Reservation,
    SpendCap,
)
from billing.selectors import wallet_of
from billing.spend_caps import spend_cap_set
from generation.dedupe.services import dedupe_policy_set
from generation.models import GenerationJob
from generation.moderation.models import Category, PrefilterRule
from generation.moderation.services import prefilter_rule_add

PRO = "gemini-3-pro-image-preview"
LIST_PRICE = 134_000  # PRO at 1K on the shipped price list


def charged(response) -> int:
    assert response.status_code == 202, response.content
    return GenerationJob.objects.get(pk=response.json()["id"]).price


def new_price_list(*, price: int, effective_at) -> PriceList:
    price_list = PriceList.objects.create(name="Repriced", effective_at=effective_at)
    PriceItem.objects.create(price_list=price_list, model=PRO, tier="1K", unit_price=price,
                             google_cost=price)
    return price_list


def test_a_new_price_list_applies_to_the_next_submit(owner, submit, shared_cache):
    assert charged(submit(owner, model=PRO, prompt="a")) == LIST_PRICE

    price_list = new_price_list(price=150_000, effective_at=timezone.now() - timedelta(seconds=1))

    response = submit(owner, model=PRO, prompt="b")
    assert charged(response) == 150_000
    assert GenerationJob.objects.get(pk=response.json()["id"]).price_list_id == price_list.pk


def test_an_edited_price_applies_to_the_next_submit(owner, submit, shared_cache):
    price_list = new_price_list(price=150_000, effective_at=timezone.now() - timedelta(seconds=1))
    assert charged(submit(owner, model=PRO, prompt="a")) == 150_000

    item = PriceItem.objects.get(price_list=price_list, model=PRO, tier="1K")
    item.unit_price = 90_000
    item.save()

    assert charged(submit(owner, model=PRO, prompt="b")) == 90_000


def test_a_price_list_dated_in_the_future_does_not_apply_yet(owner, submit, shared_cache):
    new_price_list(price=999_000, effective_at=timezone.now() + timedelta(days=1))

    assert charged(submit(owner, model=PRO, prompt="a")) == LIST_PRICE
    assert charged(submit(owner, model=PRO, prompt="b")) == LIST_PRICE


def test_a_new_override_and_discount_apply_to_the_agency_only(owner, outsider, submit,
                                                              shared_cache):
    assert charged(submit(owner, model=PRO, prompt="a")) == LIST_PRICE
    assert charged(submit(outsider, model=PRO, prompt="a")) == LIST_PRICE

    override = PriceOverride.objects.create(organization=owner.organization, model=PRO,
                                            tier="1K", unit_price=100_000)
    assert charged(submit(owner, model=PRO, prompt="b")) == 100_000
    assert charged(submit(outsider, model=PRO, prompt="b")) == LIST_PRICE

    override.delete()
    OrganizationDiscount.objects.create(organization=owner.organization, discount_bps=5_000)
    assert charged(submit(owner, model=PRO, prompt="c")) == LIST_PRICE // 2
    assert charged(submit(outsider, model=PRO, prompt="c")) == LIST_PRICE


def test_a_new_prefilter_rule_blocks_the_next_submit_and_unblocks_when_disabled(
        owner, submit, shared_cache):
    assert submit(owner, model=PRO, prompt="a red kite").status_code == 202

    rule = PrefilterRule.objects.create(pattern="kite", category=Category.OTHER)
    refused = submit(owner, model=PRO, prompt="a red kite")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "content_blocked"

    rule.enabled = False
    rule.save()
    assert submit(owner, model=PRO, prompt="a red kite").status_code == 202

    # Re-enabled by staff through the service (a queryset update, no model signal).
    prefilter_rule_add(actor=None, kind="term", pattern="kite", category=Category.OTHER,
                       reason="seen again")
    assert submit(owner, model=PRO, prompt="a red kite").status_code == 400

    rule.delete()
    assert submit(owner, model=PRO, prompt="a red kite").status_code == 202


def test_a_new_spend_cap_refuses_the_next_submit(owner, submit, shared_cache):
    brand = Brand.objects.get(organization=owner.organization)
    key = ApiKey.objects.get(organization=owner.organization)
    assert submit(owner, model=PRO, prompt="a").status_code == 202
    assert submit(owner, model=PRO, prompt="a", brand=str(brand.pk)).status_code == 202

    spend_cap_set(brand=brand, limit=LIST_PRICE)  # one image held already: no room for two
    refused = submit(owner, model=PRO, prompt="b", brand=str(brand.pk))
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "brand_budget_exceeded"

    SpendCap.objects.create(api_key=key, limit=LIST_PRICE * 2)  # two held already
    refused = submit(owner, model=PRO, prompt="c")
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "key_budget_exceeded"

    SpendCap.objects.filter(api_key=key).delete()
    assert submit(owner, model=PRO, prompt="d").status_code == 202


def test_insufficient_credits_refuse_with_the_same_message_and_write_nothing(
        owner, submit, shared_cache):
    assert submit(owner, model=PRO, prompt="a").status_code == 202
    jobs_before = GenerationJob.objects.count()
    available = wallet_of(organization=owner.organization).available
    PriceOverride.objects.create(organization=owner.organization, model=PRO, tier="1K",
                                 unit_price=available + 1)

    refused = submit(owner, model=PRO, prompt="b")

    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert error["message"].startswith("Insufficient credits: this request costs $")
    assert GenerationJob.objects.count() == jobs_before
    assert Reservation.objects.count() == jobs_before
    assert wallet_of(organization=owner.organization).available == available


def test_a_dedupe_policy_applies_to_the_next_submit(owner, outsider, submit, run_queued_jobs,
                                                    django_capture_on_commit_callbacks,
                                                    shared_cache):
    same = {"model": PRO, "prompt": "same", "seed": 7}
    first = submit(owner, **same).json()
    with django_capture_on_commit_callbacks(execute=True):
        run_queued_jobs()
    assert submit(owner, **same).json()["cached"] is False

    dedupe_policy_set(organization=owner.organization, window_seconds=3600)
    again = submit(owner, **same).json()
    assert (again["cached"], again["cached_from"]) == (True, first["id"])
    assert submit(outsider, **same).json()["cached"] is False

    dedupe_policy_set(organization=owner.organization, enabled=False)
    assert submit(owner, **same).json()["cached"] is False
