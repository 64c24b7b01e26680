#!/usr/bin/env python3
"""make_tokenizer_fixtures.py — the tokenizer parity fixtures, from tools/bert_tokenizer_reference.py:

  tests/goldens/wordpiece_cases.json        edge cases (accents, CJK, controls, Unicode case
                                            mappings, long words, truncation) with a toy vocab and
                                            the IU vocabs; always regenerated
  tests/goldens/wordpiece_iu.safetensors    every IU report (../shared/data/iu-reports), compactly:
                                            per report an FNV-1a hash and the count of its wordpiece
                                            ids for each (text, vocab) combination, a hash of the
                                            text itself (to tell changed data from a tokenizer
                                            bug), and the full 320-long model inputs of a sample of
                                            reports (the longest ones, so truncation is covered).
                                            Regenerated only where the data is present.
Texts per report: "report" = findings and impression (the non-empty ones joined by "\\n", as
text/corpus.h), "other" = image, indication, comparison, MeSH, Problems joined the same way.
The vocabularies tests/goldens/vocab_iu{2000,300}.txt were trained by cxrlab itself:
  build/cxr vocab --size 2000 --out tests/goldens/vocab_iu2000.txt ../shared/data/iu-reports/indiana_reports.csv
  build/cxr vocab --size 300  --out tests/goldens/vocab_iu300.txt  ../shared/data/iu-reports/indiana_reports.csv
Usage: /usr/bin/python3 tools/make_tokenizer_fixtures.py   (`make goldens` runs it)
"""
import csv
import json
import os
import sys
import unicodedata

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "goldens"))

from bert_tokenizer_reference import (BasicTokenizer, WordpieceTokenizer, fnv1a_bytes, fnv1a_ids,  # noqa: E402
                                      load_vocab)
from common import write_safetensors  # noqa: E402

GOLDENS = os.path.join(ROOT, "tests", "goldens")
IU_CSV = os.path.join(ROOT, "..", "shared", "data", "iu-reports", "indiana_reports.csv")

TOY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "want", "##want", "##ed", "wa", "un", "runn", "##ing",
             ",", "low", "lowest", "hello", "!", "how", "are", "you", "?", "cafe", "naive", "hallo", "x", "-", "ray",
             "##s", "1", ".", "5", "##cm", "c", "/", "o", "a", "##b", "##c", "istanbul", "ＡＢＣ", "ａｂｃ", "博", "推",
             "ah", "zz", "ꭰ", "ǆ", "𐐨", "ß", "##ß", "[", "]", "mask", "cls"]

CASES = [
    "  \tHeLLo!how  \n Are yoU?  ",
    "UNwant\u00E9d,running",
    "unwanted running",
    "unwantedX running",
    "H\u00E9llo na\u00EFve caf\u00E9 \u00DCn\u00EFc\u00F6d\u00E9",
    "ah\u535A\u63A8zz",
    "e\u0301 \u1E9B\u0323 A\u030A",
    "\u0130stanbul ISTANBUL",
    "\u00E0\u0000b\u0007c\u200Bd\uFFFDe\u00ADf",
    "ab\u2028cd ef\u2029gh\u3000ij\u00A0kl",
    "\u00ABquote\u00BB \u2014 \u00BFqu\u00E9? x-ray 1.5cm C/O",
    "\uFF21\uFF22\uFF23 \uFF41\uFF42\uFF43",
    "\u13A0 \u01C5 \U00010400 \u1E9E \u00DF stra\u00DFe",
    "\uD55C\uAD6D\uC5B4 \u3131 \u1100\u1161",
    "\U0001F600 \U0001D400 emoji",
    "[CLS] literal [MASK] tokens [SEP]",
    "a" * 100 + " " + "b" * 101,
    "\u00E9" * 101,
    "",
    " \t\n ",
    "The cardiac silhouette and mediastinum size are within normal limits. There is no pulmonary edema.",
    "1. Bullous emphysema and interstitial fibrosis. 2. Probably scarring in the left apex, although difficult.",
    "Heart size normal. Lungs are clear. XXXX are normal. No pneumonia, effusions, edema, pneumothorax, "
    "adenopathy, nodules or masses.",
]


def tokenize(vocab, text, lower):
    basic = BasicTokenizer(do_lower_case=lower).tokenize(text)
    wp = WordpieceTokenizer(vocab)
    pieces = [p for w in basic for p in wp.tokenize(w)]
    return basic, pieces


def features(vocab, pieces, max_seq_length):
    ids = [vocab[t] for t in ["[CLS]"] + pieces[:max_seq_length - 2] + ["[SEP]"]]
    mask = [1] * len(ids)
    pad = max_seq_length - len(ids)
    return ids + [0] * pad, mask + [0] * pad


def write_cases(vocabs):
    out = {"unicode_version": unicodedata.unidata_version, "toy_vocab": TOY_VOCAB, "cases": []}
    for text in CASES:
        for vocab_name in ("toy", "iu2000", "iu300"):
            for lower in (True, False):
                if vocab_name == "iu300" and not lower:
                    continue
                vocab = vocabs[vocab_name]
                basic, pieces = tokenize(vocab, text, lower)
                ids, mask = features(vocab, pieces, 12)
                out["cases"].append({"text": text, "vocab": vocab_name, "lower": lower, "basic": basic,
                                     "tokens": pieces, "ids": [vocab[p] for p in pieces],
                                     "features12_ids": ids, "features12_mask": mask})
    path = os.path.join(GOLDENS, "wordpiece_cases.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=True, indent=0)
        f.write("\n")
    print(f"{os.path.relpath(path)}: {len(out['cases'])} cases")


def join_fields(values):
    return "\n".join(v for v in values if v)


COMBOS = [("report", "iu2000", True), ("report", "iu300", True), ("other", "iu2000", True),
          ("report", "iu2000", False)]


def write_iu(vocabs):
    if not os.path.exists(IU_CSV):
        print(f"wordpiece_iu: {IU_CSV} not found: kept the existing fixture")
        return
    with open(IU_CSV, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    texts = {
        "report": [join_fields([r["findings"], r["impression"]]) for r in rows],
        "other": [join_fields([r["image"], r["indication"], r["comparison"], r["MeSH"], r["Problems"]]) for r in rows],
    }
    to_i64 = lambda h: h - (1 << 64) if h >= (1 << 63) else h  # noqa: E731  (uint64 stored as int64)
    t = {"uid": torch.tensor([int(r["uid"]) for r in rows], dtype=torch.int64)}
    for name, values in texts.items():
        t[f"text_hash.{name}"] = torch.tensor([to_i64(fnv1a_bytes(v.encode("utf-8"))) for v in values])
    pieces_by_combo = {}
    for text_name, vocab_name, lower in COMBOS:
        key = f"{text_name}.{vocab_name}" + ("" if lower else ".cased")
        vocab = vocabs[vocab_name]
        all_ids = []
        for v in texts[text_name]:
            _, pieces = tokenize(vocab, v, lower)
            all_ids.append([vocab[p] for p in pieces])
        pieces_by_combo[key] = all_ids
        t[f"{key}.hash"] = torch.tensor([to_i64(fnv1a_ids(ids)) for ids in all_ids])
        t[f"{key}.count"] = torch.tensor([len(ids) for ids in all_ids])
    # full model inputs (max_seq_length 320) for the 6 longest reports under the small vocab (these
    # are truncated) and 2 ordinary ones
    counts = [len(x) for x in pieces_by_combo["report.iu300"]]
    longest = sorted(range(len(rows)), key=lambda i: (-counts[i], i))[:6]
    sample = longest + [0, len(rows) // 2]
    t["features.rows"] = torch.tensor(sample)
    for key in ("report.iu2000", "report.iu300"):
        vocab = vocabs[key.split(".")[1]]
        ids_rows, mask_rows = [], []
        for i in sample:
            ids = [vocab["[CLS]"]] + pieces_by_combo[key][i][:318] + [vocab["[SEP]"]]
            ids_rows.append(ids + [0] * (320 - len(ids)))
            mask_rows.append([1] * len(ids) + [0] * (320 - len(ids)))
        t[f"features.{key}.input_ids"] = torch.tensor(ids_rows)
        t[f"features.{key}.attention_mask"] = torch.tensor(mask_rows)
    path = os.path.join(GOLDENS, "wordpiece_iu.safetensors")
    write_safetensors(path, t, {"generator": "tools/make_tokenizer_fixtures.py", "reports": str(len(rows)),
                                "unicode": unicodedata.unidata_version})
    print(f"{os.path.relpath(path)}: {len(rows)} reports, {os.path.getsize(path)} bytes; "
          f"longest report.iu300 = {max(counts)} wordpieces")


def main():
    vocabs = {"toy": {t: i for i, t in enumerate(TOY_VOCAB)},
              "iu2000": load_vocab(os.path.join(GOLDENS, "vocab_iu2000.txt")),
              "iu300": load_vocab(os.path.join(GOLDENS, "vocab_iu300.txt"))}
    write_cases(vocabs)
    write_iu(vocabs)


if __name__ == "__main__":
    main()
