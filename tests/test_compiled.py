"""Hot queries compiled once (config/compiled.py) answer exactly what the queryset would, for
every run's own values, with their select_related rows loaded in the same query."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Brand
from config.compiled import CompiledQuery
from tests.conftest import make_tenant

_BRANDS = CompiledQuery(lambda v: Brand.objects.select_related("organization")
                        .filter(organization_id__in=v.organizations, archived_at=None)
                        .order_by("name"))
_BRAND_NAMED = CompiledQuery(lambda v: Brand.objects.filter(name=v.name))


def _brands(organization, *names):
    return [Brand.objects.create(organization=organization, name=name, slug=name.lower())
            for name in names]


def test_each_run_gets_the_rows_for_its_own_values(db):
    north = make_tenant("North", "o@north.test").organization
    south = make_tenant("South", "o@south.test").organization
    _brands(north, "Alpha", "Bravo")
    _brands(south, "Charlie")

    assert [b.name for b in _BRAND_NAMED.fetch(name="Bravo")] == ["Bravo"]
    assert [b.name for b in _BRAND_NAMED.fetch(name="Charlie")] == ["Charlie"]
    assert _BRAND_NAMED.fetch(name="Nobody") == []
    # Lists of any length, in the order the queryset asks for (each organization also has the
    # brand it was created with, named after it).
    assert [b.name for b in _BRANDS.fetch(organizations=[south.pk])] == ["Charlie", "South"]
    assert [b.name for b in _BRANDS.fetch(organizations=[north.pk, south.pk])] == [
        "Alpha", "Bravo", "Charlie", "North", "South"]
    assert _BRANDS.fetch(organizations=[]) == []


def test_a_run_is_one_query_with_its_related_rows(db):
    north = make_tenant("North", "o@north.test").organization
    south = make_tenant("South", "o@south.test").organization
    _brands(north, "Alpha")
    _brands(south, "Charlie", "Delta")

    with CaptureQueriesContext(connection) as queries:
        first = _BRANDS.fetch(organizations=[north.pk])
        second = _BRANDS.fetch(organizations=[north.pk, south.pk])
        organizations = [brand.organization.name for brand in second]

    assert [brand.organization.name for brand in first] == ["North", "North"]
    assert organizations == ["North", "South", "South", "North", "South"]
    assert len(queries) == 2  # the organizations came with their brands
    # Instances are Django's own: loaded from the database, saved like any other.
    second[0].name = "Alpha Prime"
    second[0].save(update_fields=["name"])
    assert Brand.objects.get(pk=second[0].pk).name == "Alpha Prime"
    assert not second[0]._state.adding


def test_the_compiled_answer_matches_the_queryset(db):
    north = make_tenant("North", "o@north.test").organization
    _brands(north, "Alpha", "Bravo")
    Brand.objects.filter(name="Bravo").update(archived_at="2026-01-01T00:00:00Z")

    plain = list(Brand.objects.select_related("organization")
                 .filter(organization_id__in=[north.pk], archived_at=None).order_by("name"))

    assert _BRANDS.fetch(organizations=[north.pk]) == plain
