"""The enabled pre-filter rules, compiled once per process and reused until a rule is saved or
deleted (see config.refcache). A write that bypasses model signals (queryset.update) must call
`prefilter_rules_changed` itself."""

import re

from django.db.models.signals import post_delete, post_save

from config import refcache
from generation.moderation.models import PrefilterRule, RuleKind

PREFILTER = "moderation:prefilter"


def rule_regex(rule: PrefilterRule) -> re.Pattern:
    if rule.kind == RuleKind.REGEX:
        return re.compile(rule.pattern, re.IGNORECASE)
    # A term matches whole words only: "ass" must not stop "class".
    return re.compile(rf"(?<!\w){re.escape(rule.pattern.strip())}(?!\w)", re.IGNORECASE)


def _load() -> tuple[tuple[PrefilterRule, re.Pattern], ...]:
    compiled = []
    for rule in PrefilterRule.objects.filter(enabled=True).order_by("id"):
        try:
            compiled.append((rule, rule_regex(rule)))
        except re.error:
            continue  # a broken expression is skipped (the admin form refuses them)
    return tuple(compiled)


def enabled_rules() -> tuple[tuple[PrefilterRule, re.Pattern], ...]:
    """(rule, compiled pattern) for every enabled rule that compiles, in id order."""
    return refcache.cached(PREFILTER, _load)


def prefilter_rules_changed() -> None:
    refcache.bump(PREFILTER)


def _on_rule_write(sender, **kwargs):
    prefilter_rules_changed()


post_save.connect(_on_rule_write, sender=PrefilterRule, dispatch_uid="refcache:PrefilterRule")
post_delete.connect(_on_rule_write, sender=PrefilterRule,
                    dispatch_uid="refcache-del:PrefilterRule")
