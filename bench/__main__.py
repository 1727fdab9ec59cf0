"""`make bench`: run every benchmark against the temporary PostgreSQL server in DATABASE_URL and
append a dated section with the machine's description to docs/benchmarks.md."""

import importlib
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

# Each module exposes `run() -> list[str]` (markdown lines). Add a benchmark with one line here.
BENCHMARKS = ("bench.submit", "bench.upstream")
RESULTS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def machine() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip() or platform.processor()
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"PostgreSQL {postgres}, {platform.system()} {platform.release()}")


def main(names: list[str]) -> int:
    call_command("migrate", verbosity=0)
    selected = [name for name in BENCHMARKS if not names or name.split(".")[-1] in names]
    lines = [f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "", f"Machine: {machine()}", ""]
    for name in selected:
        print(f"running {name} ...", flush=True)
        lines += importlib.import_module(name).run() + [""]
    text = "\n".join(lines) + "\n"
    print(text)
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmarks\n\nWritten by `make bench`; newest last.\n\n")
    with RESULTS.open("a") as results:
        results.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
