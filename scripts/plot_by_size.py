"""Draw precision@5 against users for the defaults, the IDF baseline and the original system.

``python scripts/plot_by_size.py docs/results/quality_by_size.json --out docs/figures/precision_by_size.png``

The JSON holds rows ``{"users", "seed", "method", "precision@5"}`` (docs/analysis.md, section 8).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"defaults": "o-", "IDF baseline": "s--", "original system": "^:"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = json.loads(args.results.read_text())["rows"]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for method, style in STYLE.items():
        for seed in sorted({r["seed"] for r in rows if r["method"] == method}):
            points = sorted((r["users"], r["precision@5"]) for r in rows if r["method"] == method and r["seed"] == seed)
            ax.plot(*zip(*points, strict=True), style, label=f"{method}, seed {seed}", alpha=0.85)
    ax.set_xscale("log")
    ax.set_xlabel("users (taste groups of ~50 users: their number grows with the users)")
    ax.set_ylabel("precision@5 (planted groups)")
    ax.set_title("Realistic generator, held-out seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
