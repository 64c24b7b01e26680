#!/usr/bin/env python3
"""plot_mlm_curve.py — the loss curve of a `cxr pretrain-text` run as a small standalone SVG (no
plotting library needed): training loss per step (light), its 20-step moving average (dark) and the
held-out loss at the evaluation steps (dots), plus held-out masked-token accuracy on a second axis.
Usage: plot_mlm_curve.py RUN_DIR/train_log.tsv OUT.svg [TITLE]
"""
import csv
import sys


def main():
    log_path, out_path = sys.argv[1], sys.argv[2]
    title = sys.argv[3] if len(sys.argv) > 3 else "MLM pretraining"
    with open(log_path) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    steps = [int(r["step"]) for r in rows]
    loss = [float(r["loss"]) for r in rows]
    evals = [(int(r["step"]), float(r["heldout_loss"]), float(r["heldout_accuracy"]))
             for r in rows if float(r["heldout_loss"]) >= 0]
    avg = [sum(loss[max(0, i - 19):i + 1]) / len(loss[max(0, i - 19):i + 1]) for i in range(len(loss))]

    W, H, L, R, T, B = 720, 400, 60, 60, 40, 50
    xmax, ymax = max(steps), max(loss) * 1.05
    x = lambda s: L + (W - L - R) * s / xmax  # noqa: E731
    y = lambda v: T + (H - T - B) * (1 - v / ymax)  # noqa: E731
    ya = lambda a: T + (H - T - B) * (1 - a)  # noqa: E731  accuracy axis 0..1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>']
    for k in range(0, int(ymax) + 1):
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{y(k):.1f}" y2="{y(k):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{L - 6}" y="{y(k) + 4:.1f}" text-anchor="end">{k}</text>')
    for k in range(0, 11, 2):
        out.append(f'<text x="{W - R + 6}" y="{ya(k / 10) + 4:.1f}" fill="#c60">{k / 10:.1f}</text>')
    tick = max(1, xmax // 10 // 50 * 50) if xmax >= 100 else max(1, xmax // 10)
    for s in range(0, xmax + 1, tick):
        out.append(f'<text x="{x(s):.1f}" y="{H - B + 16}" text-anchor="middle">{s}</text>')
    out.append(f'<line x1="{L}" x2="{W - R}" y1="{H - B}" y2="{H - B}" stroke="black"/>')
    out.append(f'<line x1="{L}" x2="{L}" y1="{T}" y2="{H - B}" stroke="black"/>')
    pts = lambda xs, ys: " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(xs, ys))  # noqa: E731
    out.append(f'<polyline fill="none" stroke="#9bd" stroke-width="1" points="{pts(steps, loss)}"/>')
    out.append(f'<polyline fill="none" stroke="#036" stroke-width="2" points="{pts(steps, avg)}"/>')
    if evals:
        out.append('<polyline fill="none" stroke="#c00" stroke-width="1.5" stroke-dasharray="4 3" points="'
                   + " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v, _ in evals) + '"/>')
        out += [f'<circle cx="{x(s):.1f}" cy="{y(v):.1f}" r="3" fill="#c00"/>' for s, v, _ in evals]
        out.append('<polyline fill="none" stroke="#c60" stroke-width="1.5" points="'
                   + " ".join(f"{x(s):.1f},{ya(a):.1f}" for s, _, a in evals) + '"/>')
        out += [f'<rect x="{x(s) - 3:.1f}" y="{ya(a) - 3:.1f}" width="6" height="6" fill="#c60"/>' for s, _, a in evals]
    out.append(f'<text x="{W / 2}" y="{H - 12}" text-anchor="middle">optimizer step</text>')
    out.append(f'<text x="16" y="{H / 2}" transform="rotate(-90 16 {H / 2})" text-anchor="middle">cross-entropy (nats)</text>')
    out.append(f'<text x="{W - 14}" y="{H / 2}" transform="rotate(90 {W - 14} {H / 2})" text-anchor="middle" '
               f'fill="#c60">held-out masked-token accuracy</text>')
    legend = [("#9bd", "training loss (per step)"), ("#036", "training loss, 20-step mean"),
              ("#c00", "held-out loss"), ("#c60", "held-out accuracy")]
    for i, (col, text) in enumerate(legend):
        ly = T + 14 + 16 * i
        out.append(f'<line x1="{W - R - 190}" x2="{W - R - 170}" y1="{ly}" y2="{ly}" stroke="{col}" stroke-width="2"/>')
        out.append(f'<text x="{W - R - 165}" y="{ly + 4}">{text}</text>')
    out.append("</svg>")
    with open(out_path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
