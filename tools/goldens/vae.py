"""vae.py — PyTorch fixtures for vae_loss (nn/models/vae.cpp; see tests/test_vae.cpp).

Each case stores the loss's inputs (mu, logvar, reconstruction logits, label logits, x in [0, 1],
int64 labels with -1 = unlabelled) and the stacked [total, reconstruction, kl, label] computed here
row by row, straight from the formulas of docs/VAE.md — independently of how vae_loss composes its
ops — plus the gradients of a random combination of the four with respect to every float input.
The configurations (head, likelihood, beta, label_weight, gaussian_std) are repeated in the test.
"""
import torch
import torch.nn.functional as F

# name: (head, likelihood, beta, label_weight, gaussian_std, labels)
CASES = {
    "vae_loss.classifier_bernoulli_mixed": ("classifier", "bernoulli", 0.5, 3.0, 0.1, [2, -1, 0, 3, -1]),
    "vae_loss.classifier_bernoulli_unlabelled": ("classifier", "bernoulli", 1.0, 100.0, 0.1, [-1, -1, -1]),
    "vae_loss.classifier_gaussian_all_labelled": ("classifier", "gaussian", 1.0, 10.0, 0.2, [1, 3, 0, 2]),
    "vae_loss.regressor_gaussian_mixed": ("regressor", "gaussian", 2.0, 5.0, 0.3, [1, -1, 3, 0, -1, 2]),
    "vae_loss.regressor_bernoulli_unlabelled": ("regressor", "bernoulli", 1.0, 100.0, 0.1, [-1, -1]),
}


def vae_loss(head, likelihood, beta, label_weight, gaussian_std):
    def fn(mu, logvar, rec_logits, label_logits, x, labels):
        n = mu.shape[0]
        if likelihood == "bernoulli":
            rec = F.binary_cross_entropy_with_logits(rec_logits, x, reduction="none").flatten(1).sum(1)
        else:
            rec = ((x - torch.sigmoid(rec_logits)) ** 2).flatten(1).sum(1) / (2 * gaussian_std ** 2)
        kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1)
        labelled = labels >= 0
        y = labels.clamp(min=0)
        if head == "classifier":
            nll = F.cross_entropy(label_logits, y, reduction="none")
        else:
            nll = 0.5 * (label_logits[:, 0] - y.to(label_logits.dtype)) ** 2
        nll = nll * labelled.to(nll.dtype)
        n_lab = int(labelled.sum())
        total = (rec + beta * kl + label_weight * nll).sum() / n
        label = nll.sum() / n_lab if n_lab > 0 else nll.sum() * 0
        return torch.stack([total, rec.mean(), kl.mean(), label])
    return fn


def build(g):
    for name, (head, likelihood, beta, label_weight, gaussian_std, labels) in CASES.items():
        n, d, s = len(labels), 3, 4
        mu, logvar, rec_logits = g.randn(n, d), g.randn(n, d) * 0.5, g.randn(n, 1, s, s) * 2
        # classifier: 4 logits; regressor: f(z) around the middle of the 0..3 scale
        label_logits = g.randn(n, 4) * 1.5 if head == "classifier" else g.randn(n, 1) + 1.5
        g.case(name, vae_loss(head, likelihood, beta, label_weight, gaussian_std), mu, logvar, rec_logits,
               label_logits, g.rand(n, 1, s, s), torch.tensor(labels, dtype=torch.int64))
    # float64, for the tight comparison.
    labels = [0, -1, 2]
    g.case("vae_loss.f64", vae_loss("classifier", "bernoulli", 1.0, 7.0, 0.1),
           g.randn(3, 2).double(), g.randn(3, 2).double(), g.randn(3, 1, 3, 3).double(), g.randn(3, 4).double(),
           g.rand(3, 1, 3, 3).double(), torch.tensor(labels, dtype=torch.int64))
