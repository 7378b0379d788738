#!/usr/bin/env bash
# The 1 GB scale measurement of ARCHITECTURE.md ("Measured: 1 GB, 8 tasks"): generates the
# corpus, then runs `millstone run` (A) and the local engine with 8 tasks (B) interleaved three
# times, then one Slurm run if SLURM_CONF points at a cluster (.ci/slurm.sh starts one).
# Usage: scripts/scale-1gb.sh [DIR]   (default /tmp/gb; needs ~3 GB of disk)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/gb}
cargo build --release --bin millstone -p millstone --quiet
cargo build --release --bin gen-news -p millstone-testkit --quiet
bin=$PWD/target/release
mkdir -p "$dir/input"
for s in 1 2 3 4 5 6 7 8; do
  [ -s "$dir/input/g$s.jsonl" ] && continue
  "$bin/gen-news" --synthetic "$dir/g$s" "$s" 15000
  mv "$dir/g$s/corpus.jsonl" "$dir/input/g$s.jsonl"
done
pipeline() { # out_dir
  cat <<YAML
version: 1
name: scale
runtime: { out_dir: $1 }
stages:
  - { type: ingest.jsonl, path: $dir/input }
  - { type: clean.strip_boilerplate, unmarked_comment_threads: true }
  - { type: clean.normalize_whitespace }
  - { type: clean.length, min_words: 20 }
  - { type: dedup.exact, id: exact, report: $1/exact.jsonl }
  - { type: dedup.minhash, id: minhash, preset: news, report: $1/minhash.jsonl }
  - { type: export.jsonl, path: $1/docs.jsonl }
YAML
}
pipeline "$dir/out" >"$dir/scale.yaml"
pipeline "$dir/outl" >"$dir/scale-l.yaml"
pipeline "$dir/outs" >"$dir/scale-s.yaml"
for i in 1 2 3; do
  uptime
  /usr/bin/time -f "A run      %e s  %M KB" "$bin/millstone" run "$dir/scale.yaml" --overwrite --quiet
  rm -rf "$dir/work-local"
  /usr/bin/time -f "B local 8  %e s  %M KB" "$bin/millstone" submit "$dir/scale-l.yaml" --tasks 8 \
    --work "$dir/work-local" --threads 1 --max-parallel 2 --overwrite 2>&1 | grep -E '^(B|step)'
done
cat "$dir"/outl/docs.*-of-00008.jsonl | cmp - "$dir/out/docs.jsonl" && echo "local parts = single output"
if [ -n "${SLURM_CONF:-}" ]; then
  rm -rf "$dir/work-slurm"
  /usr/bin/time -f "C slurm 8  %e s" "$bin/millstone" submit "$dir/scale-s.yaml" --engine slurm --wait \
    --tasks 8 --work "$dir/work-slurm" --threads 1 --max-parallel 2 --overwrite 2>&1 | grep -E '^(C|step)'
  cat "$dir"/outs/docs.*-of-00008.jsonl | cmp - "$dir/out/docs.jsonl" && echo "slurm parts = single output"
fi
