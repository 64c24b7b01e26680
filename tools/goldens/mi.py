"""mi.py — PyTorch fixtures for mi/ (see tests/test_mi.cpp).

Each case computes a loss the way the reference code does, one pair or one sample at a time, so the
vectorized C++ (score matrix + masks) is checked against the reference's semantics, not against a
second vectorization:
  * the MI bounds (METHODS.md §8): the critic make_mlp(dx+dy, [h1, h2]) as an nn.Sequential, run on
    the rows of create_mi_pairs (positives [x_i; y_i] first, then for gap = 1..B-1 and i = 0..B-1
    the pair [x_i; y_(i+gap) mod B] unless the two share a study id), then the DV loss and the
    "infonce" loss of mi_critics.py (here "seed"); and the standard CPC InfoNCE bound as docs/MI.md
    defines it (per row, the positive plus that row's negatives);
  * the joint model's ranking loss (METHODS.md §7, loss.py): the imposter j = (i+1) mod B, margins
    from report ids and labels, hinge counted only when > 0, mean over the batch, for S = dot,
    cosine and -L2.
Inputs of an MI case: in0 = x (B, dx), in1 = y (B, dy), in2 = study ids (int64), in3..in8 = the
critic's 0.weight, 0.bias, 2.weight, 2.bias, 4.weight, 4.bias. Of a ranking case: in0 = z_image,
in1 = z_text, in2 = labels (int64, -1 unlabelled), in3 = report ids (int64).
"""
import math

import torch
import torch.nn.functional as F


def critic(v, w0, b0, w2, b2, w4, b4):
    """nn.Sequential(Linear, ReLU, Linear, ReLU, Linear) with the given parameters: (N, dx+dy) -> (N, 1)."""
    return F.linear(F.relu(F.linear(F.relu(F.linear(v, w0, b0)), w2, b2)), w4, b4)


def mi_pairs(x, y, study):
    """The rows of create_mi_pairs: B positives, then the negatives in the reference's order."""
    b = len(study)
    rows = [torch.cat((x, y), 1)]
    for gap in range(1, b):
        for i in range(b):
            j = (i + gap) % b
            if study[i] != study[j]:
                rows.append(torch.cat((x[i], y[j])).reshape(1, -1))
    return torch.cat(rows, 0)


def dv_loss(t, pos_size):
    """LSE over the negative rows - log N_neg - mean of the positive rows (t: (N, 1))."""
    n_neg = t.shape[0] - pos_size
    return torch.logsumexp(t[pos_size:], dim=0) - math.log(n_neg) - torch.mean(t[:pos_size])


def seed_loss(t, pos_size):
    """The reference's "infonce": LSE over the negative rows (then a mean over its one element) - mean positive."""
    return torch.mean(torch.logsumexp(t[pos_size:], dim=0)) - torch.mean(t[:pos_size])


def cpc_loss(x, y, study, weights):
    """-(1/B) sum_i [T_ii - log((1/K_i) sum_{j in P_i} e^{T_ij})], P_i = {i} and the j with another study."""
    b = len(study)
    terms = []
    for i in range(b):
        row = [j for j in range(b) if j == i or study[i] != study[j]]
        t = torch.cat([critic(torch.cat((x[i], y[j])).reshape(1, -1), *weights).reshape(1) for j in row])
        t_pos = t[row.index(i)]
        terms.append(t_pos - (torch.logsumexp(t, dim=0) - math.log(len(row))))
    return -torch.stack(terms).mean()


def mi_case(g, name, bound, study, dx, dy, hidden):
    b = len(study)
    h1, h2 = hidden
    x, y = g.randn(b, dx), g.randn(b, dy)
    weights = [g.randn(h1, dx + dy) * 0.6, g.randn(h1) * 0.3, g.randn(h2, h1) * 0.5, g.randn(h2) * 0.3,
               g.randn(1, h2) * 0.6, g.randn(1) * 0.3]
    ids = torch.tensor(study, dtype=torch.int64)

    def fn(x, y, ids, *w):
        sid = ids.tolist()
        if bound == "infonce":
            return cpc_loss(x, y, sid, w).reshape(())
        t = critic(mi_pairs(x, y, sid), *w)
        loss = dv_loss(t, b) if bound == "dv" else seed_loss(t, b)
        return loss.reshape(())

    g.case(name, fn, x, y, ids, *weights)


def similarity(kind, a, b):
    if kind == "dot":
        return torch.dot(a, b)
    if kind == "cosine":
        return torch.dot(a, b) / (torch.norm(a) * torch.norm(b))
    return -1 * torch.norm(a - b)


def ranking_part(kind, z_image, z_text, y, report, part):
    """One direction of loss.py: part "image" (imposter image) or "text" (imposter text)."""
    b = z_image.size(0)
    loss = torch.zeros(1)
    for i in range(b):
        j = i + 1 if i < b - 1 else 0
        if report[i] == report[j]:
            margin = 0
        elif y[i].item() == -1 or y[j].item() == -1:
            margin = 0.5
        else:
            margin = max(0.5, (y[i] - y[j]).abs().item())
        paired = similarity(kind, z_image[i], z_text[i])
        imposter = similarity(kind, z_image[j], z_text[i]) if part == "image" else similarity(kind, z_text[j], z_image[i])
        diff = imposter - paired + margin
        if diff > 0:
            loss = loss + diff
    return (loss / b).reshape(())


def build(g):
    # MI bounds: duplicate study ids (10 at rows 0, 2; 12 at rows 3, 4), dx != dy; and all-distinct ids.
    dup = [10, 11, 10, 12, 12]
    distinct = [1, 2, 3, 4]
    for bound in ("dv", "seed", "infonce"):
        mi_case(g, f"{bound}.dup", bound, dup, 3, 4, (6, 5))
        mi_case(g, f"{bound}.distinct", bound, distinct, 2, 3, (4, 3))
    # All-pairs critic scores (B = 3, B' = 4): the matrix the C++ fast path computes.
    x, y = g.randn(3, 3), g.randn(4, 2)
    weights = [g.randn(6, 5) * 0.6, g.randn(6) * 0.3, g.randn(4, 6) * 0.5, g.randn(4) * 0.3, g.randn(1, 4) * 0.6,
               g.randn(1) * 0.3]

    def all_pairs(x, y, *w):
        return torch.stack([torch.cat([critic(torch.cat((x[i], y[j])).reshape(1, -1), *w).reshape(1)
                                       for j in range(y.shape[0])]) for i in range(x.shape[0])])

    g.case("critic.scores", all_pairs, x, y, *weights)

    # Ranking loss. Reports: rows 0, 1 share report 100 and rows 4, 5 report 103 (margin 0; their text
    # embeddings are equal, so the imposter-text hinge is exactly 0 there: a tie the reference skips);
    # row 2 unlabelled (margins 0.5); labels 0 vs 3 (margin 3), 3 vs 3 with different reports (0.5),
    # 3 vs 2 (1).
    reports = torch.tensor([100, 100, 101, 102, 103, 103, 104])
    labels = torch.tensor([2, 2, -1, 0, 3, 3, 3])
    for kind in ("dot", "cosine", "l2"):
        z_image, z_text = g.randn(7, 5), g.randn(7, 5)
        z_text[1] = z_text[0]
        z_text[5] = z_text[4]
        for part in ("image", "text"):
            g.case(f"rank.{kind}.{part}", lambda zi, zt, y, r, k=kind, p=part: ranking_part(k, zi, zt, y, r.tolist(), p),
                   z_image, z_text, labels, reports)
