#!/usr/bin/env bash
# A separate virtual environment with Home Assistant core for the live tests (tests/live).
# Home Assistant pins its own dependencies, so it never goes into the project's .venv.
# Usage: scripts/ha_venv.sh [venv dir, default .ha-venv]   (HA_VERSION=... to change the release)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.ha-venv}"
HA_VERSION="${HA_VERSION:-2024.1.6}"   # the newest release that supports Python 3.11
PYTHON="${PYTHON:-python3.11}"
start=$(date +%s)
"$PYTHON" -m venv "$VENV"
echo "*" > "$VENV/.gitignore"  # the venv ignores itself
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# the machine-wide constraint file caps unrelated packages; Home Assistant brings its own pins
PIP_CONSTRAINT= "$VENV/bin/python" -m pip install --quiet "homeassistant==$HA_VERSION"
# The requirements Home Assistant would pip-install at its first start for the test configuration
# (tests/live/conftest.py), pinned by the release's own manifests: every integration it names
# and their dependencies (logbook -> frontend brings the frontend's files, about 150 MB;
# onboarding -> person -> image_upload; recorder). With them here Home Assistant starts with
# --skip-pip and fetches nothing.
REQS=$("$VENV/bin/python" - <<'PY'
import json, pathlib, homeassistant.components as c
root = pathlib.Path(c.__file__).parent
seen, reqs = set(), set()
def walk(domain):
    if domain not in seen:
        seen.add(domain)
        manifest = json.loads((root / domain / "manifest.json").read_text())
        reqs.update(manifest.get("requirements", []))
        for dep in manifest.get("dependencies", []) + manifest.get("after_dependencies", []):
            walk(dep)
for domain in ("onboarding", "api", "http", "recorder", "history", "logbook", "input_number",
               "input_select", "input_datetime", "input_boolean", "template", "script"):
    walk(domain)
print(" ".join(sorted(reqs)))
PY
)
PIP_CONSTRAINT= "$VENV/bin/python" -m pip install --quiet $REQS
echo "$HA_VERSION" > "$VENV/.ha-installed"
echo "Home Assistant $HA_VERSION installed in $VENV in $(( $(date +%s) - start )) s"
