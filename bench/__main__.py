"""`python -m bench`: migrate the database in DATABASE_URL, run every benchmark module, print
the results and append them, dated and with the machine, to docs/benchmarks.md.

Each module runs in a process of its own (`python -m bench --module NAME OUTPUT`), so that no
benchmark measures with what an earlier one left in its process: the sync benchmark's client
times its requests in that process, and run after the others in one process its overhead p99
came out 350-470 ms, against 137 ms in a fresh process on the same servers and data (and
110-125 ms alone).
"""

import importlib
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

# One line per benchmark module; each exposes run() -> str (Markdown).
MODULES = (
    "bench.ledger",
    "bench.submit",
    "bench.upstream",
    "bench.sync_surfaces",
)

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = ("# Benchmarks\n\nAppended by `make bench` (`python -m bench`), newest last. Each run "
          "uses a throwaway PostgreSQL server with durability off (fsync, synchronous_commit), "
          "so figures measure our code and locking, not the disk.\n")


def machine() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (f"{os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}, "
            f"PostgreSQL {postgres}, load average at start {load}")


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    connection.close()
    if argv[:1] == ["--module"]:  # one benchmark, in this process: its body to a file
        _, name, output = argv
        Path(output).write_text(importlib.import_module(name).run())
        return 0
    wanted = argv or MODULES
    sections = []
    for name in wanted:
        print(f"== {name}", flush=True)
        with tempfile.NamedTemporaryFile("r", suffix=".md") as output:
            subprocess.run([sys.executable, "-m", "bench", "--module", name, output.name],
                           check=True)
            body = Path(output.name).read_text()
        print(body, flush=True)
        sections.append(f"### {name}\n\n{body.strip()}\n")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    text = text.rstrip("\n") + f"\n\n## {stamp} — {machine()}\n\n" + "\n".join(sections)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
