"""Set-up steps beyond pip: optional system packages the tests and charts use.

Runs from `make setup`. Each step says what it does and carries on when it cannot (for example
without root): the tests that need the missing piece skip with a clear reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess

APT_PACKAGES = {
    # binary → Debian package
    "chromium": "chromium",
}


def main() -> None:
    missing = [pkg for binary, pkg in APT_PACKAGES.items() if shutil.which(binary) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(f"setup: optional packages not installed (need root + apt-get): {missing}")
        return
    print(f"setup: installing {', '.join(missing)} with apt-get …")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    result = subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=False, env=env,
                            stdout=subprocess.DEVNULL)
    if result.returncode != 0:
        print("setup: apt-get failed; browser tests will skip")


if __name__ == "__main__":
    main()
