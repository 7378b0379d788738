#!/usr/bin/env python3
"""The four quality filters side by side: millstone's `clean.gopher_quality`,
`clean.gopher_repetition`, `clean.c4` and `clean.fineweb` (annotate mode, one pass, the verdict
each would give) against datatrove's GopherQualityFilter, GopherRepetitionFilter,
C4QualityFilter and FineWebQualityFilter, each run on every document's original text.

Usage: quality.py MILLSTONE_BINARY CORPUS.jsonl [ROUNDS]

Run it with a Python that has datatrove and spaCy (datatrove's English word tokenizer), in a
venv outside the repository: `python3 -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip
install datatrove spacy`. Prints, per filter, how many documents both keep, both drop with the
same reason, and disagree (with a few examples), then the median whole-process wall time of
ROUNDS interleaved runs (millstone at one thread, datatrove in one process) and their ratio.
"""
import collections, json, os, statistics, subprocess, sys, tempfile, time

FILTERS = ["gopher_quality", "gopher_repetition", "c4", "fineweb"]

PEER = r'''
import copy, json, sys, warnings
warnings.filterwarnings("ignore")
from datatrove.data import Document
from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter,
    GopherQualityFilter, GopherRepetitionFilter)
filters = {"gopher_quality": GopherQualityFilter(), "gopher_repetition": GopherRepetitionFilter(),
           "c4": C4QualityFilter(), "fineweb": FineWebQualityFilter()}
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1], encoding="utf-8"):
        d = json.loads(line)
        verdicts = {}
        for name, f in filters.items():
            res = f.filter(Document(text=d["text"], id=d["id"]))
            if res is True:
                verdicts[name] = "keep"
            elif isinstance(res, tuple):
                verdicts[name] = res[1] or "drop"
            else:
                verdicts[name] = "drop"
        out.write(json.dumps({"id": d["id"], **verdicts}) + "\n")
'''

PIPELINE = """version: 1
runtime: {{ out_dir: {out} }}
stages:
  - type: ingest.jsonl
    path: {corpus}
    max_doc_bytes: 64MiB
  - type: clean.gopher_quality
    on_match: annotate
  - type: clean.gopher_repetition
    on_match: annotate
  - type: clean.c4
    on_match: annotate
  - type: clean.fineweb
    on_match: annotate
  - type: export.jsonl
    path: {out}/tagged.jsonl
"""


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


PREFIXES = {"gopher_quality": "gopher", "gopher_repetition": "gopher_repetition", "c4": "c4",
            "fineweb": "fineweb"}


def verdict_of(record, name):
    """The verdict millstone wrote, nested (`quality: {gopher: {verdict}}`) or dotted."""
    key = PREFIXES[name]
    nested = record.get("quality", {}).get(key, {})
    if isinstance(nested, dict) and "verdict" in nested:
        return nested["verdict"]
    return record.get(f"quality.{key}.verdict", "keep")


def main():
    binary, corpus = sys.argv[1], os.path.abspath(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    work = tempfile.mkdtemp()
    pipeline = os.path.join(work, "quality.yaml")
    with open(pipeline, "w") as f:
        f.write(PIPELINE.format(out=work, corpus=corpus))
    peer = os.path.join(work, "peer.py")
    with open(peer, "w") as f:
        f.write(PEER)
    theirs_path = os.path.join(work, "datatrove.jsonl")
    ours_cmd = [binary, "run", pipeline, "--quiet", "--overwrite", "--threads", "1"]
    theirs_cmd = [sys.executable, peer, corpus, theirs_path]
    times = {"millstone": [], "datatrove": []}
    for _ in range(rounds):
        times["millstone"].append(timed(ours_cmd))
        times["datatrove"].append(timed(theirs_cmd))

    ours = {}
    for line in open(os.path.join(work, "tagged.jsonl"), encoding="utf-8"):
        d = json.loads(line)
        ours[d["id"]] = {name: verdict_of(d.get("meta", d), name) for name in FILTERS}
    theirs = {json.loads(l)["id"]: json.loads(l) for l in open(theirs_path, encoding="utf-8")}
    print(f"{len(ours)} documents ({os.path.getsize(corpus) / 1e6:.1f} MB)")
    for name in FILTERS:
        tally, examples = collections.Counter(), []
        for doc_id, mine in ours.items():
            a, b = mine[name], theirs[doc_id][name]
            if a == b:
                tally["both keep" if a == "keep" else "same drop reason"] += 1
            else:
                tally["disagree"] += 1
                if len(examples) < 5:
                    examples.append(f"{doc_id}: millstone {a}, datatrove {b}")
        agree = (tally["both keep"] + tally["same drop reason"]) / len(ours)
        print(f"{name:18} agreement {agree:.4f}  " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
        for e in examples:
            print("    " + e)
    ms, dt = statistics.median(times["millstone"]), statistics.median(times["datatrove"])
    print(f"wall time, median of {rounds}: millstone {ms:.2f} s (1 thread), datatrove {dt:.2f} s; ratio {dt / ms:.1f}x")


if __name__ == "__main__":
    main()
