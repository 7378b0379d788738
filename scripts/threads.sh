#!/usr/bin/env bash
# The thread-scaling table of BENCHMARKS.md: each pipeline (jsonl -> stages -> jsonl) on one
# corpus at --threads 1 and --threads 2, A and B interleaved ROUNDS times; prints the median
# wall time, MB/s and peak RSS of each, and the ratio of the medians (2 threads / 1 thread).
# Usage: scripts/threads.sh CORPUS.jsonl [ROUNDS] [OUT_DIR]
#   CORPUS: e.g. `gen-news --synthetic DIR 42 33000` (DIR/corpus.jsonl, ~276 MB, 98,450 docs).
#   OUT_DIR: where outputs go (default /tmp/threads-out; on tmpfs it leaves out disk writeback).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=$(realpath "$1")
rounds=${2:-3}
out=${3:-/tmp/threads-out}
mkdir -p "$out"
cargo build --release --bin millstone -p millstone --quiet
bin=$PWD/target/release/millstone
size=$(stat -c %s "$corpus")
declare -A stages=(
  [identity]=""
  [pii]="  - { type: clean.pii }"
  [quality4]=$'  - { type: clean.gopher_quality }\n  - { type: clean.gopher_repetition }\n  - { type: clean.c4 }\n  - { type: clean.fineweb }'
  [sentences]="  - { type: segment.sentences }"
  [exact]="  - { type: dedup.exact }"
  [minhash_web]="  - { type: dedup.minhash, preset: web }"
)
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-12s %9s %8s %9s %9s %8s %9s %7s\n" pipeline "1t s" "1t MB/s" "1t RSS MB" "2t s" "2t MB/s" "2t RSS MB" "2t/1t"
for name in identity pii quality4 sentences exact minhash_web; do
  yaml="$out/$name.yaml"
  printf 'stages:\n  - { type: ingest.jsonl, path: %s }\n%s\n  - { type: export.jsonl, path: %s }\n' \
    "$corpus" "${stages[$name]}" "$out/$name.jsonl" | sed '/^$/d' > "$yaml"
  : > "$out/$name.1" ; : > "$out/$name.2"
  for _ in $(seq "$rounds"); do
    for t in 1 2; do
      /usr/bin/time -f "%e %M" -o "$out/time" "$bin" run "$yaml" --overwrite --quiet --threads "$t" >/dev/null 2>&1
      cat "$out/time" >> "$out/$name.$t"
    done
  done
  s1=$(cut -d' ' -f1 "$out/$name.1" | median); r1=$(cut -d' ' -f2 "$out/$name.1" | median)
  s2=$(cut -d' ' -f1 "$out/$name.2" | median); r2=$(cut -d' ' -f2 "$out/$name.2" | median)
  awk -v n="$name" -v s1="$s1" -v r1="$r1" -v s2="$s2" -v r2="$r2" -v b="$size" 'BEGIN {
    printf "%-12s %9.2f %8.1f %9.0f %9.2f %8.1f %9.0f %7.2f\n", n, s1, b/1e6/s1, r1/1024, s2, b/1e6/s2, r2/1024, s2/s1 }'
done
