"""Channel services: routing, limits shared by every worker, the circuit breaker, and the
default channel from GEMINI_API_KEY. Writes only; see docs/upstreams.md for the rules.

Limits live in the database (`ChannelLease` rows counted under a row lock on the channel), or
in Redis when REDIS_URL is set (`channel_limits`: the Redis slot is the lease, no row is
written); either way they hold across every worker process and machine, and a slot expires on
its own, so a worker killed mid-call frees it after the channel's timeout.
"""

import contextlib
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from generation import channel_limits
from generation.models import BreakerState, Channel, ChannelLease, Provider

logger = logging.getLogger(__name__)

DEFAULT_CHANNEL_NAME = "default-gemini"


@dataclass(frozen=True)
class Route:
    channel: Channel | None  # None: no channel configured at all, the local renderer serves
    lease_id: int | None
    probe: bool = False
    slot_token: str = ""  # the Redis slot held, when limits live in Redis


@dataclass(frozen=True)
class NoRoute:
    """No channel can take the call now. `wait` seconds: all busy or open, try again then;
    None: no enabled channel serves the model at all."""

    wait: float | None
    reason: str


def channel_ensure_default() -> Channel | None:
    """Create or update the channel that GEMINI_API_KEY (+ GEMINI_BASE_URL) describes. Idempotent;
    run by `manage.py ensure_default_channel` at start-up (never from AppConfig.ready)."""
    if not settings.GEMINI_API_KEY:
        return None
    with transaction.atomic():
        channel = Channel.objects.select_for_update().filter(name=DEFAULT_CHANNEL_NAME).first()
        if channel is None:
            channel = Channel(name=DEFAULT_CHANNEL_NAME, provider=Provider.GEMINI)
        changed = channel.pk is None or channel.secret != settings.GEMINI_API_KEY or (
            channel.base_url != (settings.GEMINI_BASE_URL or ""))
        if changed:
            channel.secret = settings.GEMINI_API_KEY
            channel.base_url = settings.GEMINI_BASE_URL or ""
            if not channel.enabled and channel.disabled_reason.startswith("authentication"):
                # A new key is the operator's answer to "the key was rejected".
                channel.enabled, channel.disabled_reason = True, ""
            channel.save()
    return channel


_default_ensured = False


def channel_ensure_default_once() -> None:
    """Per process: workers started without `ensure_default_channel` still see the env key."""
    global _default_ensured
    if not _default_ensured:
        channel_ensure_default()
        _default_ensured = True


def _live_leases(channel: Channel, now):
    return ChannelLease.objects.filter(channel=channel, released_at__isnull=True,
                                       expires_at__gt=now)


def _room_wait(channel: Channel, now) -> float:
    """0 when the channel can take one more call now, else seconds until it may."""
    if channel.concurrency_limit is not None and (
            _live_leases(channel, now).count() >= channel.concurrency_limit):
        return 0.5
    if channel.rpm_limit is not None:
        window = ChannelLease.objects.filter(channel=channel,
                                             acquired_at__gt=now - timedelta(minutes=1))
        if window.count() >= channel.rpm_limit:
            oldest = window.order_by("acquired_at").values_list("acquired_at", flat=True).first()
            return max(0.5, (oldest + timedelta(minutes=1) - now).total_seconds())
    return 0.0


def _cooldown() -> timedelta:
    """How long an open breaker keeps traffic away before a real request may probe."""
    return timedelta(seconds=settings.BREAKER_COOLDOWN_SECONDS)


def _breaker_allows(channel: Channel, now) -> tuple[bool, bool]:
    """(may call, is the half-open probe)."""
    if channel.breaker_state == BreakerState.CLOSED:
        return True, False
    probe_due = channel.opened_at is None or now >= channel.opened_at + _cooldown()
    if channel.breaker_state == BreakerState.OPEN:
        return probe_due, probe_due
    # Half-open: one probe at a time; a probe lost with its worker is replaced after its timeout.
    lost = channel.probe_started_at is None or now >= channel.probe_started_at + timedelta(
        seconds=channel.timeout_seconds + 5)
    return lost, lost


def _breaker_wait(channel: Channel, now) -> float:
    if channel.breaker_state == BreakerState.HALF_OPEN:
        return 2.0  # a probe is out; its answer decides soon
    return max(0.5, ((channel.opened_at or now) + _cooldown() - now).total_seconds())


class ChannelSnapshot:
    """The enabled channels as one worker's dispatch pass last read them, for Redis mode only
    (database limits need the rows locked on every call). Read at most once per `max_age`
    seconds instead of once per call, and again after anything that changes a channel's health
    (`invalidate`), so a disabled or tripped channel stops taking this worker's calls within
    about a second; the probe and the limits themselves stay atomic (conditional update, Redis
    script), whatever the snapshot says."""

    def __init__(self, max_age: float = 1.0):
        self.max_age = max_age
        self._read_at: float | None = None
        self._channels: list[Channel] = []
        self._any = False

    def invalidate(self) -> None:
        self._read_at = None

    def enabled_channels(self) -> tuple[list[Channel], bool]:
        """(enabled channels, whether any channel exists at all)."""
        if self._read_at is None or time.monotonic() - self._read_at > self.max_age:
            self._channels = list(Channel.objects.filter(enabled=True))
            self._any = bool(self._channels) or Channel.objects.exists()
            self._read_at = time.monotonic()
        return self._channels, self._any


def channel_route(*, model: str, job_id=None, exclude: frozenset[int] = frozenset(),
                  snapshot: ChannelSnapshot | None = None) -> Route | NoRoute:
    """Pick the highest-priority healthy channel with room (weighted among equals) and take a
    lease on it. Disabled channels are never picked; `exclude` holds the ones this job already
    failed on in this attempt (failover). `snapshot` (Redis mode) saves reading the channels."""
    now = timezone.now()
    in_redis = channel_limits.enabled()
    # Database limits: a transaction holding the channel rows. Redis limits: no transaction
    # (no network I/O inside one); the Redis script is the atomic step.
    with contextlib.nullcontext() if in_redis else transaction.atomic():
        if in_redis and snapshot is not None:
            rows, any_channel = snapshot.enabled_channels()
        else:
            rows, any_channel = Channel.objects.filter(enabled=True), None
        if not in_redis:
            # Locking the candidate rows makes "count leases, then add one" atomic across workers.
            rows = rows.select_for_update()
        channels = [channel for channel in rows if channel.serves(model)]
        if not channels:
            if not (any_channel if any_channel is not None else Channel.objects.exists()):
                return Route(channel=None, lease_id=None)
            return NoRoute(wait=None, reason=f"no enabled upstream channel serves {model}")
        candidates = [channel for channel in channels if channel.pk not in exclude]
        waits: list[float] = []
        for priority in sorted({channel.priority for channel in candidates}, reverse=True):
            tier = [channel for channel in candidates if channel.priority == priority]
            while tier:
                channel = random.choices(tier, weights=[max(1, c.weight) for c in tier])[0]
                tier.remove(channel)
                allowed, probe = _breaker_allows(channel, now)
                if not allowed:
                    waits.append(_breaker_wait(channel, now))
                    continue
                token = ""
                if in_redis and (channel.concurrency_limit is not None
                                 or channel.rpm_limit is not None):
                    token = uuid.uuid4().hex
                    room_wait = channel_limits.slot_take(channel=channel, token=token)
                else:
                    room_wait = 0.0 if in_redis else _room_wait(channel, now)
                if room_wait:
                    waits.append(room_wait)
                    continue
                if probe:
                    if snapshot is not None:
                        snapshot.invalidate()  # the breaker moves either way
                    if not Channel.objects.filter(
                            pk=channel.pk, breaker_state=channel.breaker_state,
                            probe_started_at=channel.probe_started_at).update(
                            breaker_state=BreakerState.HALF_OPEN, probe_started_at=now):
                        # Another worker took the probe first (no row lock in Redis mode).
                        if token:
                            channel_limits.slot_release(channel_id=channel.pk, token=token)
                        waits.append(_breaker_wait(channel, now))
                        continue
                if in_redis:
                    # The Redis slot (if the channel has limits) is the lease: no row to write.
                    return Route(channel=channel, lease_id=None, probe=probe, slot_token=token)
                lease = ChannelLease.objects.create(
                    channel=channel, job_id=job_id, acquired_at=now,
                    expires_at=now + timedelta(seconds=channel.timeout_seconds + 5))
                return Route(channel=channel, lease_id=lease.pk, probe=probe, slot_token=token)
        if not candidates:
            return NoRoute(wait=None, reason="every channel serving this model failed this attempt")
        return NoRoute(wait=min(waits) if waits else 1.0, reason="all channels are busy or open")


def channel_release(*, route: Route, outcome: str, error: str = "") -> None:
    """End a call: free the lease and feed the breaker.

    outcome: "ok" (the upstream answered, images or a policy answer), "failure" (429, 5xx,
    timeout, garbled), "auth" (key rejected: disable and alert), "neutral" (our request was bad).
    """
    if route.channel is None:
        return
    now = timezone.now()
    channel = route.channel
    if route.lease_id is not None:
        ChannelLease.objects.filter(pk=route.lease_id).update(released_at=now)
    if route.slot_token:
        channel_limits.slot_release(channel_id=channel.pk, token=route.slot_token)
    if outcome == "ok":
        if channel.breaker_state == BreakerState.CLOSED and channel.consecutive_failures == 0:
            # As the route read it: nothing to reset (the usual case, so no UPDATE per call).
            # A failure another worker recorded since that read is reset by the next success
            # routed on a fresher read (snapshots are at most about a second old).
            return
        Channel.objects.filter(pk=channel.pk).exclude(
            breaker_state=BreakerState.CLOSED, consecutive_failures=0).update(
            breaker_state=BreakerState.CLOSED, consecutive_failures=0, opened_at=None,
            probe_started_at=None)
    elif outcome == "failure":
        _record_failure(channel, now, error, probe=route.probe)
    elif outcome == "auth":
        channel_disable(channel=channel, reason=f"authentication failed: {error}"[:300])


def _record_failure(channel: Channel, now, error: str, *, probe: bool) -> None:
    with transaction.atomic():
        Channel.objects.filter(pk=channel.pk).update(
            consecutive_failures=F("consecutive_failures") + 1, last_error=error[:300],
            last_failure_at=now)
        current = Channel.objects.select_for_update().get(pk=channel.pk)
        trips = current.breaker_state == BreakerState.HALF_OPEN or (
            current.breaker_state == BreakerState.CLOSED
            and current.consecutive_failures >= settings.BREAKER_FAILURES)
        if trips or probe:
            Channel.objects.filter(pk=channel.pk).update(
                breaker_state=BreakerState.OPEN, opened_at=now, probe_started_at=None)
            if current.breaker_state == BreakerState.CLOSED:
                logger.warning("circuit breaker opened for channel %s after %d failures: %s",
                               channel.name, current.consecutive_failures, error)


def channel_disable(*, channel: Channel, reason: str, alert: bool = True) -> bool:
    """Take a channel out of rotation and alert staff once (only the call that disables it).
    `alert=False` when staff disable it themselves: they need no email about their own act."""
    disabled = Channel.objects.filter(pk=channel.pk, enabled=True).update(
        enabled=False, disabled_reason=reason[:300], last_error=reason[:300],
        last_failure_at=timezone.now())
    if disabled and alert:
        logger.error("channel %s disabled: %s", channel.name, reason)
        # Outside any transaction (no network I/O inside one): the caller holds none here.
        _alert_staff(f"Upstream channel {channel.name} disabled",
                     f"Channel {channel.name} ({channel.provider}, "
                     f"{channel.base_url or 'default URL'}) was disabled: {reason}\n\n"
                     f"Fix its key in the admin and enable it again.")
    return bool(disabled)


def _alert_staff(subject: str, body: str) -> None:
    from accounts.models import User

    recipients = {email for _, email in settings.ADMINS}
    recipients.update(User.objects.filter(is_staff=True, is_active=True)
                      .exclude(email="").values_list("email", flat=True))
    if recipients:
        send_mail(f"{settings.EMAIL_SUBJECT_PREFIX}{subject}", body, None, sorted(recipients),
                  fail_silently=True)


def channel_leases_prune(*, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Drop leases too old to count against any limit (the sweeper calls this)."""
    deleted, _ = ChannelLease.objects.filter(acquired_at__lt=timezone.now() - older_than).delete()
    return deleted


def provider_for_channel(channel: Channel | None, client=None):
    """The provider client for a route; the local renderer when no channel exists."""
    if channel is None or channel.provider == Provider.LOCAL:
        from generation.providers.local import LocalProvider

        return LocalProvider()
    if channel.provider == Provider.GEMINI:
        from generation.providers.gemini import DEFAULT_BASE_URL, GeminiProvider

        return GeminiProvider(api_key=channel.secret, base_url=channel.base_url or DEFAULT_BASE_URL,
                              timeout=channel.timeout_seconds, client=client)
    if channel.provider == Provider.VERTEX:
        from generation.providers.vertex import VertexProvider

        return VertexProvider(service_account_json=channel.secret,
                              project=channel.options.get("project", ""),
                              region=channel.options.get("region", "us-central1"),
                              base_url=channel.base_url or None, timeout=channel.timeout_seconds,
                              client=client)
    if channel.provider == Provider.OPENAI:
        from generation.providers.openai import OpenAIProvider

        return OpenAIProvider(api_key=channel.secret, base_url=channel.base_url or None,
                              model_map=channel.options.get("model_map") or {},
                              timeout=channel.timeout_seconds, client=client)
    raise ValueError(f"unknown provider {channel.provider!r}")
