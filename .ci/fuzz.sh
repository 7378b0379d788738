# shellcheck shell=bash
# Bounded fuzzing for CI, sourced by .ci/run: builds the seven cargo-fuzz targets once (a debug
# build with coverage instrumentation and no sanitizer: the crates forbid unsafe code, so what
# fuzzing finds here is panics, hangs and runaway memory) and fuzzes each for
# MILLSTONE_FUZZ_SECONDS (default 10), seeded with the first MILLSTONE_FUZZ_SEEDS (default 64)
# inputs of its committed corpus: loading a whole corpus into an unoptimised build takes minutes,
# and every `cargo test` already replays the whole corpora (tests/fuzz_corpora.rs). New inputs
# go to a temporary folder, so the checkout is not changed; a crash fails CI and leaves its
# input under fuzz/artifacts/<target>/.
fuzz_bounded() {
  local seconds=${MILLSTONE_FUZZ_SECONDS:-10} seeds=${MILLSTONE_FUZZ_SEEDS:-64}
  if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: skipped: no nightly toolchain (rustup toolchain install nightly)"
    return 0
  fi
  if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: skipped: cargo-fuzz is not installed (cargo install cargo-fuzz)"
    return 0
  fi
  local targets scratch start
  start=$(date +%s)
  (cd fuzz && cargo +nightly fuzz build --dev -s none)
  echo "fuzz: built in $(( $(date +%s) - start ))s"
  targets=$(cd fuzz && cargo +nightly fuzz list)
  scratch=$(mktemp -d)
  for target in $targets; do
    mkdir -p "$scratch/$target"
    # (sed, not head: head closes the pipe early, and under pipefail the SIGPIPE would end CI)
    find "fuzz/corpus/$target" -type f | sort | sed -n "1,${seeds}p" | xargs -r cp -t "$scratch/$target"
    (cd fuzz && cargo +nightly fuzz run --dev -s none "$target" "$scratch/$target" -- \
      -max_total_time="$seconds" -print_final_stats=1 >"$scratch/$target.log" 2>&1) || true
    echo "fuzz: $target: $(grep -o 'number_of_executed_units: *[0-9]*' "$scratch/$target.log" | grep -o '[0-9]*$' || echo 0) runs"
    if [ -n "$(ls -A "fuzz/artifacts/$target" 2>/dev/null)" ]; then
      tail -n 40 "$scratch/$target.log"
      echo "fuzz: $target crashed: its input is in fuzz/artifacts/$target"
      rm -rf "$scratch"
      return 1
    fi
  done
  rm -rf "$scratch"
  echo "fuzz: all targets in $(( $(date +%s) - start ))s"
}
