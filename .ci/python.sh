#!/usr/bin/env bash
# The Python libraries that format tests read and write with (warcio for WARC files), in a venv
# outside the repository. Sourced by .ci/run: `python_venv` creates /tmp/millstone-ci-venv
# (MILLSTONE_CI_VENV overrides), installs the packages from PyPI and exports MILLSTONE_PYTHON.
# Without python3 -m venv or the network it says so and the tests that need them skip.

python_venv() {
  local venv=${MILLSTONE_CI_VENV:-/tmp/millstone-ci-venv}
  local packages=(warcio)
  if [ ! -x "$venv/bin/python" ] && ! python3 -m venv "$venv" >/dev/null 2>&1; then
    echo "python venv not created (python3 -m venv failed): the warcio tests will skip"
    return 0
  fi
  if ! "$venv/bin/python" -c "import warcio" >/dev/null 2>&1; then
    "$venv/bin/pip" install -q --disable-pip-version-check "${packages[@]}" >/dev/null 2>&1 \
      || echo "pip install ${packages[*]} failed: the tests that need them will skip"
  fi
  export MILLSTONE_PYTHON="$venv/bin/python"
}
