"""Debian's Chromium for the browser tests and the screenshot script (never `playwright install`).

`ensure_chromium()` installs the `chromium` package with apt-get when it is missing (CI runs as
root on a fresh machine); it does nothing when the browser is already there.
"""

import os
import shutil
import subprocess

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def ensure_chromium() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(f"{CHROMIUM} is missing; install Debian's chromium package (as root: "
                           "apt-get install -y chromium).")
    print("Chromium missing; installing Debian's chromium package.", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait_for_lock = ["-o", "DPkg::Lock::Timeout=600"]
    subprocess.run(["apt-get", *wait_for_lock, "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", *wait_for_lock, "install", "-y", "-qq", "chromium"], check=True,
                   env=env)
    return CHROMIUM


def launch(playwright):
    """A headless Chromium browser from a started `sync_playwright()`."""
    return playwright.chromium.launch(executable_path=ensure_chromium(), args=LAUNCH_ARGS,
                                      headless=True)
