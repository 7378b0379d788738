"""Writes fastText's own (C++) top-3 predictions for every text of eval/lid-sentences.tsv plus
edge cases, for the millstone-fasttext parity test.

    pip install fasttext-wheel numpy
    python scripts/fasttext-reference.py MODEL.ftz crates/fasttext/tests/data/lid176-reference.tsv
"""
import sys

import fasttext

EDGE = [
    "",
    "   ",
    "!!! ??? ...",
    "OK",
    "https://example.com/a/b?c=d",
    "12345 67890",
    "Hello world. Bonjour le monde. Hallo Welt.",
    "naïve café résumé façade coöperation",
    "emoji 😀 text 🚀 mixed",
    "tab\tseparated\tvalues\tare\there",
    "__label__en is a label token, the rest is English text",
    "Ω≈ç√∫˜µ≤≥÷ åß∂ƒ©˙∆˚¬…æ",
]


def main(model_path, out_path):
    model = fasttext.load_model(model_path)
    texts = [line.split("\t", 1)[1].rstrip("\n") for line in open("eval/lid-sentences.tsv", encoding="utf-8")
             if not line.startswith("#")]
    with open(out_path, "w", encoding="utf-8") as out:
        out.write("# text (escaped: \\t \\n \\\\) TAB label:probability ... from fastText 0.9.2 C++, k=3\n")
        for text in texts + EDGE:
            preds = model.f.predict(text + "\n", 3, 0.0, "strict")
            cells = [f"{label}:{prob!r}" for prob, label in preds]
            escaped = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            out.write(escaped + "\t" + " ".join(cells) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
