"""optim.py — PyTorch fixtures for nn/optim.cpp: parameters after each of 3 optimizer steps on
fixed gradients. Case "<opt>.step<k>.p<i>" holds parameter i after step k; "grad<k>.p<i>" the
gradient fed at step k; "init.p<i>" the starting values."""
import math

import torch


def hf_adamw_step(params, grads, state, lr, betas, eps, weight_decay, correct_bias):
    """The AdamW of the reference text optimizer (HuggingFace transformers.AdamW), from its algorithm."""
    b1, b2 = betas
    state["step"] = state.get("step", 0) + 1
    t = state["step"]
    for i, (p, g) in enumerate(zip(params, grads)):
        m = state.setdefault(f"m{i}", torch.zeros_like(p))
        v = state.setdefault(f"v{i}", torch.zeros_like(p))
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = v.sqrt().add_(eps)
        step_size = lr
        if correct_bias:
            step_size = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        p.addcdiv_(m, denom, value=-step_size)
        if weight_decay > 0:
            p.add_(p, alpha=-lr * weight_decay)


def build(g):
    init = [g.randn(3, 4), g.randn(4)]
    grads = [[g.randn(3, 4), g.randn(4)] for _ in range(3)]
    for i, p in enumerate(init):
        g.tensors[f"init.p{i}"] = p.clone()
    for k, gs in enumerate(grads):
        for i, gr in enumerate(gs):
            g.tensors[f"grad{k}.p{i}"] = gr.clone()

    def run(name, make):
        params = [p.clone().requires_grad_(True) for p in init]
        opt = make(params)
        for k, gs in enumerate(grads):
            for p, gr in zip(params, gs):
                p.grad = gr.clone()
            opt.step()
            for i, p in enumerate(params):
                g.tensors[f"{name}.step{k}.p{i}"] = p.detach().clone()

    run("sgd", lambda ps: torch.optim.SGD(ps, lr=0.1))
    run("sgd_momentum_wd", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01))
    run("sgd_nesterov", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True))
    run("adam", lambda ps: torch.optim.Adam(ps, lr=5e-4))
    run("adam_wd", lambda ps: torch.optim.Adam(ps, lr=1e-2, weight_decay=0.1))

    for name, correct_bias in [("adamw_nobias", False), ("adamw_bias", True)]:
        params = [p.clone() for p in init]
        state = {}
        for k, gs in enumerate(grads):
            hf_adamw_step(params, gs, state, lr=1e-2, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.1,
                          correct_bias=correct_bias)
            for i, p in enumerate(params):
                g.tensors[f"{name}.step{k}.p{i}"] = p.clone()

    # clip_grad_norm_
    ps = [p.clone().requires_grad_(True) for p in init]
    for p, gr in zip(ps, grads[0]):
        p.grad = gr.clone() * 3
    norm = torch.nn.utils.clip_grad_norm_(ps, 1.5)
    g.tensors["clip.norm"] = norm.detach().reshape(1)
    for i, p in enumerate(ps):
        g.tensors[f"clip.grad.p{i}"] = p.grad.clone()
