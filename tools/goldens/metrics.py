"""metrics.py — scikit-learn fixtures for eval/ (see tests/test_metrics.cpp and docs/EVALUATION.md).

Needs Debian's python3-sklearn (1.2) and numpy. Every expected value comes from sklearn / numpy:
roc_curve (drop_intermediate=True) + auc, f1_score(average='macro'), precision/recall/accuracy_score,
confusion_matrix, np.quantile (linear) for the bootstrap percentile intervals. The bootstrap resample
indices come from the Python port of cxrlab's Philox (philox.py), so the C++ replicates are the same
samples. Undefined values (an AUC with one class present) are stored as NaN.

Cases (keys "<prefix>.<case>.<field>", case names listed in the file metadata as JSON):
  roc.*    binary roc_curve / auc: in scores [N] F64, targets [N] I64; out fpr, tpr, thresholds, auc
  ord.*    evaluate_ordinal4: in probs [N, 4] F64, labels [N] I64; out one scalar per metric
           ("ord.<case>.m.<metric>"), confusion [4, 4] I64, ROC of each AUC ("ord.<case>.roc.<metric>.fpr/.tpr")
  bin.*    evaluate_binary: in probs [N], labels [N]; out m.auc, m.accuracy, m.f1, roc.auc.fpr/.tpr
  find.*   evaluate_findings: in probs [N, K], labels [N, K] in {-2, -1, 0, 1}; out m.auc_<Name>, m.auc_mean,
           counts [K, 2] (negatives, positives), roc.auc_<Name>.fpr/.tpr; names in metadata
  boot.*   bootstrap: inputs as above plus options [3] F64 (replicates, level, seed); out per metric
           "boot.<case>.m.<metric>" = [value, ci_low, ci_high, replicates_used] F64
  boot_indices.*  bootstrap_sample(n, replicate, seed) for a few replicates: I64 [n]

The scores are computed in the same floating-point order as eval/metrics.cpp (left-to-right sums),
so tied probabilities give bit-identical tied scores on both sides.
"""
import json
import warnings

import numpy as np
import torch
from sklearn.metrics import (accuracy_score, auc, confusion_matrix, f1_score, precision_score, recall_score,
                             roc_curve)

import philox

ORDINAL_CUTS = [(1, "0v123"), (2, "01v23"), (3, "012v3")]
PAIRS = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


# ---- metric definitions (METHODS.md section 9), via sklearn ----

def sk_roc(scores, targets):
    """sklearn roc_curve + auc; NaN AUC when only one class is present."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fpr, tpr, thr = roc_curve(targets, scores, drop_intermediate=True)
    value = float(auc(fpr, tpr)) if len(np.unique(targets)) == 2 else float("nan")
    return fpr, tpr, thr, value


def sk_auc(scores, targets):
    if len(targets) == 0 or len(np.unique(targets)) < 2:
        return float("nan")
    return sk_roc(scores, targets)[3]


def ordinal_score(p, k):
    """sum_{c >= k} p_c, summed left to right as the C++ code does."""
    s = p[:, k].copy()
    for c in range(k + 1, 4):
        s = s + p[:, c]
    return s


def pairwise_score(p, a, b):
    """p_b / (p_a + p_b); 0.5 where both are 0 (eval/metrics.cpp's convention)."""
    denom = p[:, a] + p[:, b]
    with np.errstate(invalid="ignore", divide="ignore"):
        s = p[:, b] / denom
    return np.where(denom == 0, 0.5, s)


def expected_class(p):
    e = np.zeros(len(p))
    for c in range(4):
        e = e + c * p[:, c]
    return e


def ordinal_auc_inputs(p, y):
    """(metric name, scores, targets) of every AUC of the edema task."""
    out = []
    for k, name in ORDINAL_CUTS:
        out.append(("auc_" + name, ordinal_score(p, k), (y >= k).astype(np.int64)))
    for a, b in PAIRS:
        keep = (y == a) | (y == b)
        out.append((f"auc_{a}v{b}", pairwise_score(p[keep], a, b), (y[keep] == b).astype(np.int64)))
    for c in range(4):
        out.append((f"auc_ovr_{c}", p[:, c].copy(), (y == c).astype(np.int64)))
    return out


def ordinal_metrics(p, y):
    m = {name: sk_auc(s, t) for name, s, t in ordinal_auc_inputs(p, y)}
    pred = p.argmax(axis=1)  # first maximum on ties, as std::max_element
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m["macro_f1"] = float(f1_score(y, pred, average="macro"))
        m["accuracy"] = float(accuracy_score(y, pred))
        m["mse"] = float(np.mean((expected_class(p) - y) ** 2))
        for k, name in ORDINAL_CUTS:
            t, q = (y >= k).astype(np.int64), (ordinal_score(p, k) > 0.5).astype(np.int64)
            m["precision_" + name] = float(precision_score(t, q))
            m["recall_" + name] = float(recall_score(t, q))
            m["accuracy_" + name] = float(accuracy_score(t, q))
    return m


def binary_metrics(p, y):
    pred = (p > 0.5).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"auc": sk_auc(p, y), "accuracy": float(accuracy_score(y, pred)), "f1": float(f1_score(y, pred))}


def findings_metrics(p, y, names, defined=None):
    """auc_<Name> on each finding's rows with label 0/1; auc_mean over the findings whose AUC is defined
    on the full sample (`defined`); NaN in a replicate where one of those is undefined."""
    m = {}
    for j, name in enumerate(names):
        keep = (y[:, j] == 0) | (y[:, j] == 1)
        m["auc_" + name] = sk_auc(p[keep, j], y[keep, j])
    if defined is None:
        defined = [n for n in names if not np.isnan(m["auc_" + n])]
    vals = [m["auc_" + n] for n in defined]
    m["auc_mean"] = float(np.mean(vals)) if vals and not np.any(np.isnan(vals)) else float("nan")
    return m, defined


# ---- bootstrap ----

def bootstrap_sample(n, replicate, seed):
    """cxr::eval::bootstrap_sample: index i of replicate r is Generator(seed).integer(r * n + i, 0, n)."""
    counters = np.arange(replicate * n, (replicate + 1) * n, dtype=np.uint64)
    w = philox.philox4x32(seed, counters)
    bits = (w[0] << np.uint64(32)) | w[1]
    return (bits % np.uint64(n)).astype(np.int64)


def bootstrap(metric_fn, n, replicates, level, seed):
    """{metric: [value, ci_low, ci_high, used]}; metric_fn(idx) -> {name: value} (NaN = undefined)."""
    point = metric_fn(np.arange(n))
    draws = {k: [] for k in point}
    for r in range(replicates):
        for k, v in metric_fn(bootstrap_sample(n, r, seed)).items():
            if not np.isnan(v):
                draws[k].append(v)
    alpha = 1.0 - level
    q = [alpha / 2.0, 1.0 - alpha / 2.0]
    out = {}
    for k, v in point.items():
        vals = np.array(draws[k])
        if np.isnan(v) or len(vals) == 0:  # undefined on the full sample: no interval, no replicates used
            out[k] = [v, float("nan"), float("nan"), 0.0 if np.isnan(v) else float(len(vals))]
            continue
        lo, hi = np.quantile(vals, q)
        out[k] = [v, float(lo), float(hi), float(len(vals))]
    return out


# ---- fixture writing ----

def f64(x):
    return torch.tensor(np.asarray(x, dtype=np.float64), dtype=torch.float64)


def i64(x):
    return torch.tensor(np.asarray(x, dtype=np.int64), dtype=torch.int64)


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Writer:
    def __init__(self, g):
        self.g = g
        self.cases = {"roc": [], "ord": [], "bin": [], "find": [], "boot": [], "boot_indices": []}
        self.finding_names = {}
        self.rng = np.random.RandomState(20240611)

    def put(self, key, tensor):
        assert key not in self.g.tensors, key
        self.g.tensors[key] = tensor

    def roc(self, name, scores, targets):
        scores, targets = np.asarray(scores, dtype=np.float64), np.asarray(targets, dtype=np.int64)
        fpr, tpr, thr, value = sk_roc(scores, targets)
        k = "roc." + name
        self.put(k + ".scores", f64(scores))
        self.put(k + ".targets", i64(targets))
        self.put(k + ".fpr", f64(fpr))
        self.put(k + ".tpr", f64(tpr))
        self.put(k + ".thresholds", f64(thr))
        self.put(k + ".auc", f64(value))
        self.cases["roc"].append(name)

    def ordinal(self, name, p, y):
        p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.int64)
        k = "ord." + name
        self.put(k + ".probs", f64(p))
        self.put(k + ".labels", i64(y))
        for metric, value in ordinal_metrics(p, y).items():
            self.put(f"{k}.m.{metric}", f64(value))
        self.put(k + ".confusion", i64(confusion_matrix(y, p.argmax(axis=1), labels=[0, 1, 2, 3])))
        for metric, s, t in ordinal_auc_inputs(p, y):
            if len(np.unique(t)) == 2:
                fpr, tpr, _, _ = sk_roc(s, t)
                self.put(f"{k}.roc.{metric}.fpr", f64(fpr))
                self.put(f"{k}.roc.{metric}.tpr", f64(tpr))
        self.cases["ord"].append(name)

    def binary(self, name, p, y):
        p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.int64)
        k = "bin." + name
        self.put(k + ".probs", f64(p))
        self.put(k + ".labels", i64(y))
        for metric, value in binary_metrics(p, y).items():
            self.put(f"{k}.m.{metric}", f64(value))
        if len(np.unique(y)) == 2:
            fpr, tpr, _, _ = sk_roc(p, y)
            self.put(k + ".roc.auc.fpr", f64(fpr))
            self.put(k + ".roc.auc.tpr", f64(tpr))
        self.cases["bin"].append(name)

    def findings(self, name, p, y, names):
        p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.int64)
        k = "find." + name
        self.put(k + ".probs", f64(p))
        self.put(k + ".labels", i64(y))
        m, _ = findings_metrics(p, y, names)
        for metric, value in m.items():
            self.put(f"{k}.m.{metric}", f64(value))
        self.put(k + ".counts", i64([[(y[:, j] == 0).sum(), (y[:, j] == 1).sum()] for j in range(len(names))]))
        for j, finding in enumerate(names):
            keep = (y[:, j] == 0) | (y[:, j] == 1)
            if len(np.unique(y[keep, j])) == 2:
                fpr, tpr, _, _ = sk_roc(p[keep, j], y[keep, j])
                self.put(f"{k}.roc.auc_{finding}.fpr", f64(fpr))
                self.put(f"{k}.roc.auc_{finding}.tpr", f64(tpr))
        self.finding_names[name] = names
        self.cases["find"].append(name)

    def boot(self, name, kind, p, y, replicates, level, seed, names=None):
        p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.int64)
        if kind == "ord":
            fn = lambda idx: ordinal_metrics(p[idx], y[idx])  # noqa: E731
        elif kind == "bin":
            fn = lambda idx: binary_metrics(p[idx], y[idx])  # noqa: E731
        else:
            _, defined = findings_metrics(p, y, names)
            fn = lambda idx: findings_metrics(p[idx], y[idx], names, defined)[0]  # noqa: E731
            self.finding_names["boot:" + name] = names
        k = "boot." + name
        self.put(k + ".probs", f64(p))
        self.put(k + ".labels", i64(y))
        self.put(k + ".options", f64([replicates, level, seed]))
        assert seed < 2**53  # stored exactly in float64
        for metric, row in bootstrap(fn, len(y), replicates, level, seed).items():
            self.put(f"{k}.m.{metric}", f64(row))
        self.cases["boot"].append({"name": name, "kind": kind})

    def boot_indices(self, n, seed, replicates):
        for r in replicates:
            name = f"n{n}_seed{seed}_r{r}"
            self.put(f"boot_indices.{name}", i64(bootstrap_sample(n, r, seed)))
            self.cases["boot_indices"].append({"name": name, "n": n, "seed": str(seed), "replicate": r})

    def finish(self):
        self.g.metadata["cases"] = json.dumps(self.cases)
        self.g.metadata["finding_names"] = json.dumps(self.finding_names)


def probs_for(rng, y, separation=1.5):
    """Softmax of logits that lean toward the label y (an imperfect model)."""
    z = rng.randn(len(y), 4) * 1.2
    z[np.arange(len(y)), y] += separation
    return softmax(z)


def random_ordinal(rng, n, class_p, separation=1.5):
    """Labels drawn with class_p, probabilities from probs_for."""
    y = rng.choice(4, size=n, p=class_p)
    return probs_for(rng, y, separation), y


def tenths_ordinal(rng, n):
    """Probabilities that are multiples of 0.1 (a composition of 10 into 4 parts): many exact ties."""
    y = rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1])
    p = np.zeros((n, 4))
    for i in range(n):
        weights = np.full(4, 1.0)
        weights[y[i]] += 2.0
        counts = rng.multinomial(10, weights / weights.sum())
        p[i] = counts / 10.0
    return p, y


def build(g):
    w = Writer(g)
    rng = w.rng

    # ---- roc_curve / roc_auc ----
    y = (rng.rand(50) < 0.4).astype(np.int64)
    w.roc("continuous", rng.rand(50) + 0.3 * y, y)
    y = (rng.rand(200) < 0.5).astype(np.int64)
    w.roc("ties_1dp", np.round(np.clip(rng.rand(200) * 0.8 + 0.25 * y, 0, 1), 1), y)
    y = rng.randint(0, 2, 300)
    w.roc("integer_ties", rng.randint(0, 5, 300) + y, y)
    y = (rng.rand(80) < 0.5).astype(np.int64)
    w.roc("logits", rng.randn(80) * 3 + y, y)
    w.roc("tiny2", [0.3, 0.7], [0, 1])
    w.roc("tiny3_tie", [0.5, 0.5, 0.2], [1, 0, 0])
    y = np.zeros(100, dtype=np.int64)
    y[37] = 1
    w.roc("imbalanced", rng.rand(100), y)
    w.roc("perfect", [0.1, 0.2, 0.3, 0.6, 0.7, 0.9], [0, 0, 0, 1, 1, 1])
    w.roc("inverted", [0.1, 0.2, 0.3, 0.6, 0.7, 0.9], [1, 1, 1, 0, 0, 0])
    w.roc("all_tied", [0.5] * 7, [0, 1, 1, 0, 1, 0, 0])
    w.roc("collinear", [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2], [1, 1, 1, 0, 0, 0, 1, 0])
    w.roc("only_positive", [0.2, 0.4, 0.4, 0.9], [1, 1, 1, 1])
    w.roc("only_negative", [0.2, 0.4, 0.9], [0, 0, 0])
    w.roc("single", [0.3], [1])

    # ---- evaluate_ordinal4 ----
    w.ordinal("random", *random_ordinal(rng, 120, [0.45, 0.3, 0.15, 0.1]))
    w.ordinal("ties_tenths", *tenths_ordinal(rng, 150))
    p, y = random_ordinal(rng, 4, [0.25] * 4)
    w.ordinal("tiny", p, np.array([0, 1, 2, 3]))
    y = np.array([0] * 60 + [1] * 33 + [2] * 5 + [3] * 2)
    z = rng.randn(100, 4)
    z[np.arange(100), y] += 1.0
    w.ordinal("imbalanced", softmax(z), y)
    # class 2 is present but never the argmax: its F1 is 0 by zero division
    p, y = random_ordinal(rng, 60, [0.3, 0.3, 0.2, 0.2])
    p[:, 2] *= 0.01
    p /= p.sum(axis=1, keepdims=True)
    assert (p.argmax(axis=1) != 2).all() and (y == 2).any()
    w.ordinal("never_predicted", p, y)
    # class 3 absent from the labels and never predicted: macro-F1 averages over 3 classes, AUCs with 3 are null
    p, y = random_ordinal(rng, 50, [0.4, 0.35, 0.25, 0.0])
    p[:, 3] *= 0.001
    p /= p.sum(axis=1, keepdims=True)
    assert (p.argmax(axis=1) != 3).all()
    w.ordinal("missing_class", p, y)
    # class 3 predicted but absent from the labels
    p, y = random_ordinal(rng, 40, [0.4, 0.4, 0.2, 0.0])
    p[::5, 3] += 5.0
    p /= p.sum(axis=1, keepdims=True)
    w.ordinal("predicted_absent", p, y)
    y = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 0, 1])
    w.ordinal("perfect", np.eye(4)[y] * 0.9 + 0.025, y)
    w.ordinal("inverted", np.eye(4)[3 - y] * 0.9 + 0.025, y)
    p, _ = random_ordinal(rng, 20, [0.25] * 4)
    w.ordinal("single_class", p, np.ones(20, dtype=np.int64))
    # exact zeros: some pairs have p_a + p_b = 0 (pairwise score 0.5) and argmax ties (first maximum)
    w.ordinal("zeros", [[1, 0, 0, 0], [0, 0, 0, 1], [0.5, 0.5, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0.25] * 4,
                        [0, 0, 0.5, 0.5], [0.6, 0, 0, 0.4]], [0, 3, 1, 2, 1, 0, 3, 2])

    # ---- evaluate_binary ----
    y = (rng.rand(90) < 0.35).astype(np.int64)
    w.binary("random", 1 / (1 + np.exp(-(rng.randn(90) * 1.5 + 1.2 * y - 0.6))), y)
    y = (rng.rand(40) < 0.5).astype(np.int64)
    w.binary("none_predicted_positive", rng.rand(40) * 0.45 + 0.05 * y, y)
    y = (rng.rand(70) < 0.5).astype(np.int64)
    w.binary("ties_at_threshold", np.round(np.clip(rng.rand(70) * 0.8 + 0.2 * y, 0, 1), 1), y)
    w.binary("single_class", rng.rand(15), np.zeros(15, dtype=np.int64))

    # ---- evaluate_findings ----
    names = ["Atelectasis", "Cardiomegaly", "Edema", "Pneumothorax"]
    n = 80
    y = rng.choice([-2, -1, 0, 1], size=(n, 4), p=[0.3, 0.1, 0.35, 0.25])
    y[:, 3] = rng.choice([-2, -1, 0], size=n)  # no positive Pneumothorax: its AUC is null
    p = 1 / (1 + np.exp(-(rng.randn(n, 4) + 1.0 * (y == 1))))
    w.findings("main", p, y, names)

    # ---- bootstrap ----
    p, y = random_ordinal(rng, 80, [0.4, 0.3, 0.2, 0.1])
    w.boot("ord", "ord", p, y, 200, 0.95, 7)
    # tiny and rare classes: many replicates where some AUCs are undefined, a 90% interval
    y = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 0, 1, 3])
    p = probs_for(rng, y, 1.0)
    w.boot("ord_small", "ord", p, y, 300, 0.9, 3)
    y = (rng.rand(60) < 0.4).astype(np.int64)
    w.boot("bin", "bin", 1 / (1 + np.exp(-(rng.randn(60) + 1.5 * y - 0.7))), y, 250, 0.95, 11)
    names = ["Cardiomegaly", "Edema", "SupportDevices"]
    y = rng.choice([-2, -1, 0, 1], size=(50, 3), p=[0.2, 0.1, 0.45, 0.25])
    y[:, 2] = rng.choice([-2, 0, 0, 0, 1], size=50)  # few positives: some replicates have none
    y[:5, 2] = [1, 0, 0, 0, 0]
    y[5:, 2] = np.where(y[5:, 2] == 1, 0, y[5:, 2])  # exactly one positive SupportDevices
    p = 1 / (1 + np.exp(-(rng.randn(50, 3) + 1.2 * (y == 1))))
    w.boot("find", "find", p, y, 200, 0.95, 5, names)
    w.boot_indices(37, 123456789012345, [0, 1, 999])
    w.boot_indices(1, 0, [0, 5])
    w.finish()
