#!/usr/bin/env python3
"""Sentence splitting side by side: millstone `segment.sentences` against spaCy's rule-based
`sentencizer` (and pySBD, where installed) on the same texts.

Usage: sentences.py MILLSTONE_BINARY CORPUS.jsonl [ROUNDS] [--per-line]

`--per-line` feeds every non-empty line of every document as its own text: line breaks are
boundaries for millstone (`newline_boundary: true`) and pySBD but not for spaCy, so per line the
comparison is about the boundaries inside running text only.

Run it with a Python that has spaCy (a venv outside the repository:
`python3 -m venv /tmp/venv && /tmp/venv/bin/pip install spacy pysbd`). Prints, for each
segmenter, the median wall time of ROUNDS whole-process runs (read JSONL, split, write), taken
A and B interleaved, and the agreement with millstone: the share of documents split
identically and the Jaccard overlap of all sentence end offsets (characters, whitespace
trimmed).
"""
import json, os, statistics, subprocess, sys, tempfile, time

PEER = r'''
import json, sys, time
kind = sys.argv[1]
docs = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
if kind == "spacy":
    import spacy
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.max_length = 10_000_000
    split = lambda texts: ([(s.start_char, s.end_char) for s in d.sents] for d in nlp.pipe(texts, batch_size=64))
else:
    import pysbd
    seg = pysbd.Segmenter(language="en", clean=False, char_span=True)
    split = lambda texts: ([(s.start, s.end) for s in seg.segment(t)] for t in texts)
with open(sys.argv[3], "w", encoding="utf-8") as out:
    for doc, spans in zip(docs, split([d["text"] for d in docs])):
        out.write(json.dumps(spans) + "\n")
'''

def ends(text, spans):
    """Sentence end offsets in characters, trailing whitespace trimmed."""
    return {start + len(text[start:end].rstrip()) for start, end in spans if text[start:end].strip()}

def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    binary, corpus = args[0], args[1]
    rounds = int(args[2]) if len(args) > 2 else 3
    work = tempfile.mkdtemp()
    if "--per-line" in sys.argv:
        lines = os.path.join(work, "lines.jsonl")
        with open(lines, "w", encoding="utf-8") as out:
            for l in open(corpus, encoding="utf-8"):
                d = json.loads(l)
                for i, line in enumerate(t for t in d["text"].split("\n") if t.strip()):
                    out.write(json.dumps({"id": f"{d['id']}:{i}", "text": line.strip()}) + "\n")
        corpus = lines
    docs = [json.loads(l) for l in open(corpus, encoding="utf-8")]
    size = os.path.getsize(corpus)
    pipeline = os.path.join(work, "p.yaml")
    out = os.path.join(work, "out.jsonl")
    with open(pipeline, "w") as f:
        f.write(f"stages:\n  - {{ type: ingest.jsonl, path: {corpus} }}\n  - {{ type: segment.sentences }}\n"
                f"  - {{ type: export.jsonl, path: {out}, include_spans: true }}\n")
    peers = ["spacy"]
    try:
        import pysbd  # noqa: F401
        peers.append("pysbd")
    except ImportError:
        pass
    runs = {"millstone": [], **{p: [] for p in peers}}
    peer_script = os.path.join(work, "peer.py")
    open(peer_script, "w").write(PEER)
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run([binary, "run", pipeline, "--overwrite", "--quiet", "--threads", "1"], check=True)
        runs["millstone"].append(time.perf_counter() - t)
        for p in peers:
            t = time.perf_counter()
            subprocess.run([sys.executable, peer_script, p, corpus, os.path.join(work, p + ".jsonl")], check=True)
            runs[p].append(time.perf_counter() - t)
    ours = {}
    for line in open(out, encoding="utf-8"):
        d = json.loads(line)
        text = d["text"]
        raw = text.encode("utf-8")
        spans = [(len(raw[:s["start"]].decode("utf-8")), len(raw[:s["end"]].decode("utf-8")))
                 for s in d.get("spans", []) if s.get("label") == "sentence"]
        ours[d["id"]] = ends(text, spans)
    base = statistics.median(runs["millstone"])
    print(f"{len(docs)} documents, {size / 1e6:.1f} MB, {rounds} interleaved rounds, one thread each")
    print(f"{'segmenter':10} {'median s':>9} {'MB/s':>8} {'x millstone':>12} {'same split':>11} {'end overlap':>12}")
    print(f"{'millstone':10} {base:9.2f} {size / 1e6 / base:8.1f} {1.0:12.1f} {'':>11} {'':>12}")
    for p in peers:
        theirs = [json.loads(l) for l in open(os.path.join(work, p + ".jsonl"), encoding="utf-8")]
        same = inter = union = 0
        for doc, spans in zip(docs, theirs):
            a, b = ours.get(doc["id"], set()), ends(doc["text"], spans)
            same += a == b
            inter += len(a & b)
            union += len(a | b)
        m = statistics.median(runs[p])
        print(f"{p:10} {m:9.2f} {size / 1e6 / m:8.1f} {m / base:12.1f} {same / len(docs):11.3f} {inter / max(union, 1):12.3f}")

if __name__ == "__main__":
    main()
