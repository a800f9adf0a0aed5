#!/usr/bin/env bash
# A headless Chromium and its WebDriver for tests/test_mlflow_ui.py: Debian's packages, installed when
# missing (needs root and apt-get); `check` only says whether they are there.
set -euo pipefail
have() { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }
if [[ "${1:-}" == "check" ]]; then
  have && exit 0
  echo "chromium or chromedriver not on PATH (make test installs them with apt-get where it can)" >&2
  exit 1
fi
have && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "cannot install chromium: needs root and apt-get" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
have
