"""An organization's dedupe policies (its own and its brands'), read once per process and
reused until one is saved or deleted (see config.refcache): every native submit asks."""

from django.db.models.signals import post_delete, post_save

from config import refcache
from generation.dedupe.models import DedupePolicy


def policies_stamp(organization_id) -> str:
    return f"dedupe:policies:{organization_id}"


def dedupe_policies_of(*, organization_id) -> dict:
    """{brand id (None for the organization's own): policy}."""
    def load():
        return {policy.brand_id: policy
                for policy in DedupePolicy.objects.filter(organization_id=organization_id)}

    return refcache.cached(policies_stamp(organization_id), load)


def _on_policy_write(sender, instance, **kwargs):
    refcache.bump(policies_stamp(instance.organization_id))


post_save.connect(_on_policy_write, sender=DedupePolicy, dispatch_uid="refcache:DedupePolicy")
post_delete.connect(_on_policy_write, sender=DedupePolicy,
                    dispatch_uid="refcache-del:DedupePolicy")
