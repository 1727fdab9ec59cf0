"""The pre-filter refuses a matching prompt before any upstream call, reservation or charge,
and the refusal lands in the staff queue."""

import pytest

from accounts.models import ApiKey
from billing.models import LedgerEntry, Reservation, Wallet
from generation.models import GenerationJob
from generation.moderation.models import (
    CaseSource,
    CaseStatus,
    Category,
    ModerationCase,
    PrefilterRule,
    RuleKind,
)

PRO = "gemini-3-pro-image-preview"


@pytest.fixture
def rules(db):
    PrefilterRule.objects.create(kind=RuleKind.TERM, pattern="ass", category=Category.HARASSMENT)
    PrefilterRule.objects.create(kind=RuleKind.REGEX, pattern=r"bomb\s*recipe",
                                 category=Category.DANGEROUS)
    PrefilterRule.objects.create(kind=RuleKind.TERM, pattern="gore", category=Category.VIOLENCE,
                                 enabled=False)


def test_matching_prompt_is_refused_uncharged_and_opens_a_case(owner, submit, rules,
                                                                run_queued_jobs):
    wallet_before = Wallet.objects.get(organization=owner.organization)

    response = submit(owner, model=PRO, prompt="Step by step BOMB  recipe, photorealistic")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "content_blocked"
    assert error["param"] == "prompt"
    assert "dangerous" in error["message"]
    assert "nothing was charged" in error["message"]
    # Nothing of a job exists: no job, no reservation, no ledger movement, nothing queued.
    assert not GenerationJob.objects.exists()
    assert not Reservation.objects.exists()
    wallet = Wallet.objects.get(organization=owner.organization)
    assert (wallet.balance, wallet.reserved) == (wallet_before.balance, 0)
    assert LedgerEntry.objects.filter(wallet=wallet).count() == 1  # the signup grant only
    assert run_queued_jobs() == 0
    # ...but staff see it.
    case = ModerationCase.objects.get()
    assert (case.source, case.status, case.category, case.reason) == (
        CaseSource.PREFILTER, CaseStatus.OPEN, Category.DANGEROUS, "PREFILTER")
    assert case.organization == owner.organization
    assert case.api_key == ApiKey.objects.get(organization=owner.organization, name="owner key")
    assert case.prompt == "Step by step BOMB  recipe, photorealistic"
    assert case.params["image_size"] == "1K"
    assert str(case.id) in error["message"]


@pytest.mark.parametrize(("prompt", "blocked"), [
    ("a first-class ticket", False),        # a term matches whole words only
    ("what an ASS", True),                  # case-insensitive
    ("a bombrecipe zine", True),            # the regular expression
    ("a gore-tex jacket", False),           # disabled rules never match
    ("a quiet harbour", False),
])
def test_terms_match_whole_words_regexes_match_anywhere_disabled_rules_never(
        owner, submit, rules, prompt, blocked):
    response = submit(owner, model=PRO, prompt=prompt)
    assert (response.status_code == 400) is blocked
    assert ModerationCase.objects.exists() is blocked


def test_rules_are_edited_in_the_admin_and_a_bad_regex_is_refused(superuser, owner, submit):
    url = "/admin/moderation/prefilterrule/add/"
    bad = superuser.post(url, {"kind": "regex", "pattern": "(unclosed", "category": "other",
                               "enabled": "on"})
    assert bad.status_code == 200
    assert "Invalid regular expression" in bad.content.decode()
    assert not PrefilterRule.objects.exists()

    good = superuser.post(url, {"kind": "term", "pattern": "forbidden fruit",
                                "category": "other", "enabled": "on"})
    assert good.status_code == 302
    assert PrefilterRule.objects.get().created_by == superuser.user
    assert submit(owner, model=PRO, prompt="Forbidden fruit still life").status_code == 400
