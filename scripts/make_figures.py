"""Draw the figures of docs/analysis.md from a built warehouse, a published ranking and the result files.

    python scripts/make_figures.py --warehouse W/dev.duckdb --sqlite-path S --results_table T1 [T2 ...] \
        --tuning docs/results/tuning_seed11.jsonl --compare docs/results/compare_seed7.json --out docs/figures

Figures (PNG, matplotlib Agg backend, so no display is needed):
- explained_variance.png   cumulative explained variance against components, per signal
- score_distribution.png   top-1 and top-5 scores of the published ranking
- precision_vs_variance.png  precision@5 (and held-out recall@5) against the variance target
- precision_vs_weights.png   precision@5 over the weight simplex (and held-out recall@5)
- compare_buckets.png      precision@5 per method and group-size bucket
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from evaluation.metrics import bucket_labels  # noqa: E402
from evaluation.plain_cosine import load_feature_matrices  # noqa: E402
from simcore.svd import choose_n_components, reduce_to_variance  # noqa: E402
from simcore.threads import blas_threads  # noqa: E402

SIGNAL_COLOURS = {"interests": "tab:blue", "assessments": "tab:orange", "course_views": "tab:green"}


def explained_variance(warehouse: Path, out: Path, target: float) -> dict[str, dict[str, float]]:
    """Cumulative explained variance per signal; marks where ``target`` is reached."""
    _, matrices = load_feature_matrices(warehouse)
    facts: dict[str, dict[str, float]] = {}
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for signal, matrix in matrices.items():
        if matrix.nnz == 0:
            continue
        with blas_threads():
            ratio = reduce_to_variance(matrix, 1.0).explained_variance_ratio
        cumulative = np.cumsum(ratio)
        chosen = choose_n_components(ratio, target)
        facts[signal] = {"features": matrix.shape[1], "rank": int(ratio.size), f"components_at_{target:g}": chosen,
                         "components_at_0.5": choose_n_components(ratio, 0.5),
                         "components_at_0.8": choose_n_components(ratio, 0.8)}
        ax.plot(np.arange(1, ratio.size + 1), cumulative, color=SIGNAL_COLOURS[signal],
                label=f"{signal} ({matrix.shape[1]:,} features; {chosen} comp. at {target:.0%})")
        ax.plot([chosen], [cumulative[chosen - 1]], "o", color=SIGNAL_COLOURS[signal])
    ax.axhline(target, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("TruncatedSVD components (log scale)")
    ax.set_ylabel("cumulative explained variance")
    ax.set_ylim(0, 1.01)
    ax.set_title("Explained variance per signal")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "explained_variance.png", dpi=120)
    plt.close(fig)
    return facts


def score_distribution(sqlite_path: Path, tables: list[str], out: Path) -> dict[str, dict[str, float]]:
    """Histograms of the rank-1 and rank-5 scores, one panel per published table."""
    con = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        data = {t: np.array(con.execute(f'select rank, score from "{t}" where rank in (1, 5)').fetchall())
                for t in tables}
    finally:
        con.close()
    facts: dict[str, dict[str, float]] = {}
    fig, axes = plt.subplots(1, len(tables), figsize=(6 * len(tables), 4), squeeze=False)
    lo = min(rows[:, 1].min() for rows in data.values())
    hi = max(rows[:, 1].max() for rows in data.values())
    bins = np.linspace(lo, hi, 50)
    for ax, (table, rows) in zip(axes[0], data.items(), strict=True):
        top1, top5 = rows[rows[:, 0] == 1, 1], rows[rows[:, 0] == 5, 1]
        ax.hist(top1, bins=bins, alpha=0.6, label=f"rank 1 (median {np.median(top1):.3f})")
        ax.hist(top5, bins=bins, alpha=0.6, label=f"rank 5 (median {np.median(top5):.3f})")
        ax.set_xlabel("ensemble score (weighted sum of per-signal cosines)")
        ax.set_ylabel("users")
        ax.set_title(table)
        ax.legend()
        facts[table] = {"top1_median": float(np.median(top1)), "top5_median": float(np.median(top5)),
                        "top1_p10": float(np.quantile(top1, 0.1)), "top5_p10": float(np.quantile(top5, 0.1)),
                        "top1_p90": float(np.quantile(top1, 0.9)), "top5_p90": float(np.quantile(top5, 0.9))}
    fig.suptitle("Scores of the top-1 and top-5 neighbour")
    fig.tight_layout()
    fig.savefig(out / "score_distribution.png", dpi=120)
    plt.close(fig)
    return facts


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def precision_vs_variance(entries: list[dict], out: Path) -> None:
    """precision@5 (full data) and recall@5 (masked data) against the variance target, per weight setting."""
    pool = [e for e in entries if e["score_bins"] == 3 and e["view_time_bins"] == 4]
    weight_sets = sorted({tuple(e["weights"]) for e in pool if e["stage"] == "grid"})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (dataset, metric, title) in zip(axes, (("full", "precision", "precision@5 (planted groups)"),
                                                   ("masked", "recall", "recall@5 (held-out items)")),
                                            strict=True):
        for weights in weight_sets:
            points = sorted({e["variance"]: e[metric] for e in pool if e["dataset"] == dataset
                             and tuple(e["weights"]) == weights and e.get(metric) is not None}.items())
            if points:
                x, y = zip(*points, strict=True)
                ax.plot(x, y, "o-", label=f"weights {weights[0]:g}/{weights[1]:g}/{weights[2]:g}")
        ax.set_xlabel("variance target (1.0 = every component = plain cosine)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "precision_vs_variance.png", dpi=120)
    plt.close(fig)


def precision_vs_weights(entries: list[dict], out: Path) -> None:
    """Heat maps over the weight simplex (interests x course views; assessments = the rest)."""
    pool = [e for e in entries if e["stage"] == "weights" and e["source"] == "rerank"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, (dataset, metric, title) in zip(axes, (("full", "precision", "precision@5 (planted groups)"),
                                                   ("masked", "recall", "recall@5 (held-out items)")),
                                            strict=True):
        points = [(e["weights"][0], e["weights"][2], e[metric]) for e in pool
                  if e["dataset"] == dataset and e.get(metric) is not None]
        if not points:
            ax.set_visible(False)
            continue
        x, y, z = (np.array(v) for v in zip(*points, strict=True))
        sc = ax.scatter(x, y, c=z, s=260, marker="s", cmap="viridis")
        best = int(np.argmax(z))
        ax.plot(x[best], y[best], "r*", markersize=14, label=f"best {z[best]:.3f}")
        at_default = [p for p in points if (p[0], p[1]) == (0.5, 0.2)]
        if at_default:
            ax.plot(0.5, 0.2, "kx", markersize=11, markeredgewidth=2,
                    label=f"original 0.5/0.3/0.2: {at_default[0][2]:.3f}")
        fig.colorbar(sc, ax=ax)
        ax.set_xlabel("weight of interests")
        ax.set_ylabel("weight of course views (assessments = 1 - both)")
        ax.set_title(title)
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "precision_vs_weights.png", dpi=120)
    plt.close(fig)


def compare_buckets(compare: dict, out: Path) -> None:
    """precision@5 per method and group-size bucket (the comparison table as bars)."""
    rows = [r for r in compare["rows"] if r.get("precision") is not None]
    labels = bucket_labels()
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / (len(labels) + 1)
    for j, key in enumerate(["precision"] + [f"precision[{b}]" for b in labels]):
        values = [r.get(key) or 0.0 for r in rows]
        ax.bar(np.arange(len(rows)) + (j - len(labels) / 2) * width, values, width,
               label="all users" if key == "precision" else f"groups {key[10:-1]}")
    ax.set_xticks(np.arange(len(rows)))
    ax.set_xticklabels([r["method"] for r in rows], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("precision@5")
    ax.set_title(f"precision@5 by method and group size (seed {compare.get('seed')}, {compare.get('users')} users)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "compare_buckets.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--warehouse", type=Path, help="a built DuckDB warehouse (for the feature matrices)")
    p.add_argument("--sqlite-path", type=Path, help="published ranking (for the score distribution)")
    p.add_argument("--results_table", "--results-table", dest="results_tables", nargs="+", default=["user_ranking"],
                   help="published table(s) whose scores to draw, one panel each")
    p.add_argument("--tuning", type=Path, help="tuning JSON lines (python -m evaluation tune)")
    p.add_argument("--compare", type=Path, help="comparison JSON (python -m evaluation compare --results)")
    p.add_argument("--variance", type=float, default=0.90, help="variance target marked on the curves")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "figures")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    facts: dict[str, object] = {}
    if args.warehouse:
        facts["explained_variance"] = explained_variance(args.warehouse, args.out, args.variance)
    if args.sqlite_path:
        facts["scores"] = score_distribution(args.sqlite_path, args.results_tables, args.out)
    if args.tuning:
        entries = _read_jsonl(args.tuning)
        precision_vs_variance(entries, args.out)
        precision_vs_weights(entries, args.out)
    if args.compare:
        compare_buckets(json.loads(args.compare.read_text()), args.out)
    print(json.dumps(facts, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
