"""Recurring django-q2 schedules, created by data migrations (so `migrate` is the only setup)."""


def schedule_ensure(apps, *, name: str, func: str, minutes: int) -> None:
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=name, defaults={"func": func, "schedule_type": "I", "minutes": minutes,
                             "repeats": -1})


def schedule_remove(apps, *, name: str) -> None:
    apps.get_model("django_q", "Schedule").objects.filter(name=name).delete()
