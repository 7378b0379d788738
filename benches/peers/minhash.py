#!/usr/bin/env python3
"""MinHash-LSH near-duplicate clustering side by side: millstone `dedup.minhash` (`web` preset:
5-word shingles, 112 permutations, 14 bands x 8 rows, Jaccard >= 0.7, connected components)
against rensa (RMinHash + RMinHashLSH, the same parameters, union-find over verified pairs).

Usage: minhash.py MILLSTONE_BINARY CORPUS.jsonl LABELS.tsv [ROUNDS]

CORPUS/LABELS: `gen-news --synthetic DIR 42 33000` (DIR/corpus.jsonl, DIR/labels.tsv). Run it
with a Python that has rensa (`python3 -m venv /tmp/venv && /tmp/venv/bin/pip install rensa`).
Prints the median whole-process wall time of ROUNDS interleaved runs (millstone at one and at
two threads, rensa), the ratio, and each one's ARI and pair precision/recall against the labels.
"""
import collections, json, os, re, statistics, subprocess, sys, tempfile, time
from math import comb

PEER = r'''
import json, re, sys
from rensa import RMinHash, RMinHashLSH
docs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
def shingles(text):
    w = re.sub(r"[^\w\s]", "", text.lower()).split()
    return [" ".join(w[i:i + 5]) for i in range(max(len(w) - 4, 1))]
mh = []
for d in docs:
    m = RMinHash(num_perm=112, seed=42)
    m.update(shingles(d["text"]))
    mh.append(m)
lsh = RMinHashLSH(threshold=0.7, num_perm=112, num_bands=14)
for i, m in enumerate(mh):
    lsh.insert(i, m)
parent = list(range(len(docs)))
def find(x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x
for i, m in enumerate(mh):
    for j in lsh.query(m):
        if j < i and m.jaccard(mh[j]) >= 0.7:
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
with open(sys.argv[2], "w") as out:
    for i, d in enumerate(docs):
        out.write(f"{d['id']}\t{find(i)}\n")
'''

def scores(pred, true):
    n = len(pred)
    c = collections.Counter(zip(pred, true))
    s = sum(comb(v, 2) for v in c.values())
    sa = sum(comb(v, 2) for v in collections.Counter(pred).values())
    sb = sum(comb(v, 2) for v in collections.Counter(true).values())
    e = sa * sb / comb(n, 2)
    return (s - e) / ((sa + sb) / 2 - e), s / sa if sa else 1.0, s / sb if sb else 1.0

def main():
    binary, corpus, labels = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    truth = dict(l.rstrip("\n").split("\t") for l in open(labels) if not l.startswith("id\t"))
    work = tempfile.mkdtemp()
    pipeline = os.path.join(work, "p.yaml")
    report = os.path.join(work, "clusters.jsonl")
    with open(pipeline, "w") as f:
        f.write(f"stages:\n  - {{ type: ingest.jsonl, path: {corpus} }}\n"
                f"  - {{ type: dedup.minhash, preset: web, on_match: annotate, report: {report} }}\n")
    peer = os.path.join(work, "peer.py")
    open(peer, "w").write(PEER)
    clusters = os.path.join(work, "rensa.tsv")
    runs = {"millstone 1 thread": [], "millstone 2 threads": [], "rensa": []}
    for _ in range(rounds):
        for name, threads in (("millstone 1 thread", "1"), ("millstone 2 threads", "2")):
            t = time.perf_counter()
            subprocess.run([binary, "run", pipeline, "--overwrite", "--quiet", "--threads", threads], check=True)
            runs[name].append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run([sys.executable, peer, corpus, clusters], check=True)
        runs["rensa"].append(time.perf_counter() - t)
    ours = {}
    for line in open(report):
        row = json.loads(line)
        ours[row["id"]] = row["cluster"]
    theirs = dict(l.rstrip("\n").split("\t") for l in open(clusters))
    size = os.path.getsize(corpus)
    base = statistics.median(runs["millstone 2 threads"])
    print(f"{len(truth)} labelled documents, {size / 1e6:.1f} MB, {rounds} interleaved rounds")
    print(f"{'run':22} {'median s':>9} {'MB/s':>7} {'x millstone 2t':>15} {'ARI':>7} {'pair P':>7} {'pair R':>7}")
    for name, times in runs.items():
        clusters_of = theirs if name == "rensa" else ours
        ids = [i for i in truth if i in clusters_of]
        ari, p, r = scores([clusters_of[i] for i in ids], [truth[i] for i in ids])
        m = statistics.median(times)
        print(f"{name:22} {m:9.2f} {size / 1e6 / m:7.1f} {m / base:15.2f} {ari:7.4f} {p:7.4f} {r:7.4f}")

if __name__ == "__main__":
    main()
