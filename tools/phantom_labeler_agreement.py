#!/usr/bin/env python3
"""phantom_labeler_agreement.py — how well `cxr label edema` recovers the phantoms' true edema level
from their reports (docs/PHANTOM.md records the numbers).

Usage: phantom_labeler_agreement.py PHANTOM_DIR LABELS.csv [LABELS.csv ...]
  PHANTOM_DIR  made by `cxr phantom --out PHANTOM_DIR` (manifest.csv + reports/)
  LABELS.csv   made by `cxr label edema PHANTOM_DIR/reports --out LABELS.csv [--keywords DIR]`
Prints, per label file: coverage (reports given a label 0-3), exact agreement on the labelled
reports, and the confusion matrix (rows: true level, columns: label -1..3). Standard library only.
"""
import collections
import csv
import os
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    truth = {}
    with open(os.path.join(sys.argv[1], "manifest.csv"), newline="") as f:
        for r in csv.DictReader(f):
            truth["s%s.txt" % r["study_id"]] = int(r["edema"])
    for path in sys.argv[2:]:
        with open(path, newline="") as f:
            labels = {os.path.basename(r["report"]): int(r["label"]) for r in csv.DictReader(f)}
        conf = collections.Counter((truth[name], label) for name, label in labels.items())
        n = len(labels)
        labelled = sum(v for (t, l), v in conf.items() if l >= 0)
        agree = sum(v for (t, l), v in conf.items() if l == t)
        print("%s: %d reports, %d labelled (%.1f%%), exact agreement %.1f%% of labelled, %.1f%% of all"
              % (path, n, labelled, 100.0 * labelled / n, 100.0 * agree / max(labelled, 1), 100.0 * agree / n))
        print("  true\\label " + " ".join("%6d" % l for l in range(-1, 4)))
        for t in range(4):
            print("  %10d " % t + " ".join("%6d" % conf[(t, l)] for l in range(-1, 4)))


if __name__ == "__main__":
    main()
