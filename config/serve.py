"""`make run`: the ASGI web server and a django-q2 cluster side by side; Ctrl-C stops both.

The web server is uvicorn (ASGI) so surfaces that wait on a job do not pin a thread each.
"""

import os
import signal
import subprocess
import sys
import time


def main() -> int:
    port = os.environ.get("PORT", "8000")
    host = os.environ.get("HOST", "127.0.0.1")
    python = sys.executable
    children = [
        subprocess.Popen([python, "-m", "uvicorn", "config.asgi:application", "--host", host,
                          "--port", port, "--no-access-log",
                          "--workers", os.environ.get("WEB_WORKERS", "1")]),
        subprocess.Popen([python, "manage.py", "qcluster"]),
    ]
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for child in children:
            code = child.poll()
            if code is not None:
                print(f"{child.args[2]} exited with {code}; stopping.", file=sys.stderr)
                exit_code = code or 1
                stopping = True
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
