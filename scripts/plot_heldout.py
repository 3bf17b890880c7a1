"""Draw precision@5 and hit rate@5 of every method on the held-out datasets from ``evaluate compare`` results.

``python scripts/plot_heldout.py docs/results/compare_{realistic,sparse}_seed{7,8}.json \\
    --out docs/figures/heldout_precision.png``
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

METHODS = ["most active users", "interests only", "course views only", "original system", "plain cosine, no SVD",
           "IDF sparse cosine (baseline)", "ensemble (defaults)"]
SHORT = {"IDF sparse cosine (baseline)": "IDF baseline", "ensemble (defaults)": "defaults",
         "plain cosine, no SVD": "features, no SVD"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    runs = [(path.stem.replace("compare_", "").replace("_seed", " seed "), json.loads(path.read_text()))
            for path in args.results]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    width = 0.8 / len(runs)
    x = np.arange(len(METHODS))
    for metric, ax, extra in (("precision", axes[0], None), ("hit_rate", axes[1], "popular items")):
        methods = METHODS + ([extra] if extra else [])
        x = np.arange(len(methods))
        for i, (label, payload) in enumerate(runs):
            rows = {r["method"]: r for r in payload["rows"]}
            values = [rows.get(m, {}).get(metric, np.nan) for m in methods]
            ax.bar(x + (i - (len(runs) - 1) / 2) * width, values, width, label=label)
        ax.set_xticks(x, [SHORT.get(m, m) for m in methods], rotation=30, ha="right")
        ax.set_ylabel(f"{metric.replace('_', ' ')}@5")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_title("planted-group precision@5 (full data)")
    axes[1].set_title("hit rate@5 of 20% held-out items (masked data)")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
