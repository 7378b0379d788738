#!/usr/bin/env bash
# The thread-scaling table of BENCHMARKS.md: each pipeline (jsonl -> stages -> jsonl) on one
# corpus at --threads 1 and --threads 2, A and B interleaved ROUNDS times; prints the median
# wall time, MB/s, CPU seconds (user + sys) and peak RSS of each, and the ratio of the medians
# (2 threads / 1 thread). With BASELINE (another millstone binary), every round runs the baseline
# and this build interleaved, and a row per binary is printed.
# Usage: scripts/threads.sh CORPUS.jsonl [ROUNDS] [OUT_DIR] [BASELINE]
#   CORPUS: e.g. `gen-news --synthetic DIR 42 33000` (DIR/corpus.jsonl, ~276 MB, 98,450 docs).
#   OUT_DIR: where outputs go (default /tmp/threads-out; on tmpfs it leaves out disk writeback).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=$(realpath "$1")
rounds=${2:-3}
out=${3:-/tmp/threads-out}
mkdir -p "$out"
cargo build --release --bin millstone -p millstone --quiet
declare -A bins=([new]=$PWD/target/release/millstone)
order=(new)
if [ -n "${4:-}" ]; then bins[base]=$(realpath "$4"); order=(base new); fi
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
printf "%-12s %-4s %7s %8s %6s %7s %7s %8s %6s %7s %6s\n" pipeline bin "1t s" "1t MB/s" "1t cpu" "1t RSS" \
  "2t s" "2t MB/s" "2t cpu" "2t RSS" "2t/1t"
for name in identity pii quality4 sentences exact minhash_web; do
  yaml="$out/$name.yaml"
  printf 'stages:\n  - { type: ingest.jsonl, path: %s }\n%s\n  - { type: export.jsonl, path: %s }\n' \
    "$corpus" "${stages[$name]}" "$out/$name.jsonl" | sed '/^$/d' > "$yaml"
  for b in "${order[@]}"; do : > "$out/$name.$b.1"; : > "$out/$name.$b.2"; done
  for _ in $(seq "$rounds"); do
    for b in "${order[@]}"; do
      for t in 1 2; do
        /usr/bin/time -f "%e %M %U %S" -o "$out/time" "${bins[$b]}" run "$yaml" --overwrite --quiet --threads "$t" >/dev/null 2>&1
        cat "$out/time" >> "$out/$name.$b.$t"
      done
    done
  done
  for b in "${order[@]}"; do
    row=()
    for t in 1 2; do
      f="$out/$name.$b.$t"
      row+=("$(cut -d' ' -f1 "$f" | median)" "$(awk '{print $3 + $4}' "$f" | median)" "$(cut -d' ' -f2 "$f" | median)")
    done
    awk -v n="$name" -v b="$b" -v s1="${row[0]}" -v c1="${row[1]}" -v r1="${row[2]}" -v s2="${row[3]}" \
      -v c2="${row[4]}" -v r2="${row[5]}" -v size="$size" 'BEGIN {
      printf "%-12s %-4s %7.2f %8.1f %6.2f %7.0f %7.2f %8.1f %6.2f %7.0f %6.2f\n", n, b, s1, size/1e6/s1, c1, r1/1024,
        s2, size/1e6/s2, c2, r2/1024, s2/s1 }'
  done
done
