"""GET /api/v1/generations: cursor pagination, filters, tenant scoping."""

from datetime import timedelta

from django.utils import timezone

from generation.models import GenerationJob
from tests.native.conftest import PRO


def ids(response):
    return [job["id"] for job in response.json()["data"]]


def test_pages_walk_every_job_once_newest_first(owner, submit):
    made = [submit(owner, model=PRO, prompt=f"p{i}").json()["id"] for i in range(5)]
    # Two jobs with the same timestamp: the id breaks the tie, nothing is skipped or repeated.
    same = timezone.now() - timedelta(hours=1)
    GenerationJob.objects.filter(pk__in=made[:2]).update(created_at=same)

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = owner.api.get("/api/v1/generations", params).json()
        seen += [job["id"] for job in page["data"]]
        assert len(page["data"]) <= 2
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(made) and len(seen) == 5
    assert seen[:3] == made[:1:-1]  # the three recent ones, newest first


def test_filters_status_brand_and_dates(owner, submit, brands, post):
    acme, _ = brands["Acme"]
    a = submit(owner, model=PRO, prompt="a", brand=str(acme.pk)).json()["id"]
    b = submit(owner, model=PRO, prompt="b").json()["id"]
    post(owner.api, f"/api/v1/generations/{b}/cancel")
    assert ids(owner.api.get("/api/v1/generations", {"status": "canceled"})) == [b]
    assert set(ids(owner.api.get("/api/v1/generations", {"status": "queued,canceled"}))) == {a, b}
    assert ids(owner.api.get("/api/v1/generations", {"brand": str(acme.pk)})) == [a]
    GenerationJob.objects.filter(pk=a).update(created_at=timezone.now() - timedelta(days=3))
    recent = owner.api.get("/api/v1/generations",
                           {"created_after": (timezone.now() - timedelta(days=1)).isoformat()})
    assert ids(recent) == [b]
    old = owner.api.get("/api/v1/generations",
                        {"created_before": (timezone.now() - timedelta(days=1)).isoformat()})
    assert ids(old) == [a]


def test_bad_parameters_are_named(owner):
    for params, param in [({"limit": 101}, "limit"), ({"limit": 0}, "limit"),
                          ({"status": "done"}, "status"), ({"cursor": "garbage!"}, "cursor")]:
        response = owner.api.get("/api/v1/generations", params)
        assert response.status_code == 400, params
        assert response.json()["error"]["param"] == param


def test_default_limit_is_20(owner, submit):
    for i in range(21):
        submit(owner, model=PRO, prompt=f"p{i}")
    page = owner.api.get("/api/v1/generations").json()
    assert len(page["data"]) == 20 and page["has_more"] is True


def test_outsider_and_brand_keys_see_only_their_own(owner, outsider, submit, brands):
    acme, acme_api = brands["Acme"]
    globex, globex_api = brands["Globex"]
    mine = submit(owner, model=PRO, prompt="a", brand=str(acme.pk)).json()["id"]
    submit(owner, model=PRO, prompt="b", brand=str(globex.pk))
    assert ids(outsider.api.get("/api/v1/generations")) == []
    assert ids(acme_api.get("/api/v1/generations")) == [mine]
    assert ids(globex_api.get("/api/v1/generations", {"brand": str(acme.pk)})) == []
