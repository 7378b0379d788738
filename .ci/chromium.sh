#!/usr/bin/env bash
# Headless Chromium for the HTML report test (tests/html_report.rs). Sourced by .ci/run:
# `chromium_setup` installs Debian's chromium when it is missing and exports MILLSTONE_CHROMIUM;
# without root or apt-get it says so, and the test skips with its own message.

chromium_setup() {
  local browser
  browser=$(command -v chromium || command -v chromium-browser || true)
  if [ -z "$browser" ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
      echo "Chromium not installed: .ci/run needs root and apt-get to install it; the HTML report browser test will skip"
      return 0
    fi
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || {
      echo "Chromium not installed: apt-get install chromium failed; the HTML report browser test will skip"
      return 0
    }
    browser=$(command -v chromium || true)
  fi
  if [ -n "$browser" ]; then
    export MILLSTONE_CHROMIUM="$browser"
    echo "Chromium: $("$browser" --version 2>/dev/null | head -1)"
  fi
}
