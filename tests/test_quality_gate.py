"""Quality gate: the default pipeline must find planted groups, on the easy and on the harder generator.

Runs the real ``python -m datagen`` and ``python -m pipeline`` with default
flags on 2,000 generated users (seed 2024, never used for tuning), then scores
the published ranking with the evaluation's own code. Each floor is the value
measured on that exact dataset at the commit that set the defaults, minus a
margin, so a change that makes recommendations noticeably worse fails CI while
harmless numeric jitter does not.

- ``realistic``: the harder generator (shared long-tailed popularity, sibling
  groups, course identity, engagement, thin users; ``datagen/realistic.py``)
  with the real course catalogue from ``../shared``. The default must also beat
  the strong simple baseline, exact IDF-weighted sparse cosine
  (:mod:`evaluation.idf_baseline`), computed from the same warehouse.
- ``planted``: the first, easy generator, kept so a regression there shows too.

Measured 2026-12-06 (2 cores; defaults of dbt_project.yml: weights 0.75/0.05/0.2,
variance 0.4 growing with users (unchanged at 2,000), 20-neighbour smoothing, idf,
log engagement, course identity):
    realistic  precision@5 = 0.8471, IDF baseline 0.6796, random 0.0331
    planted    precision@5 = 0.9600, IDF baseline 0.8992, random 0.0363
(before the smoothing: 0.8239 and 0.9613)
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from evaluation.idf_baseline import idf_cosine_neighbours
from evaluation.neighbours import read_ranking
from evaluation.scoring import ACTIVE, RANDOM, baselines, read_truth, score_methods
from tests.conftest import REAL_DATA, run_module

USERS, SEED, K = 2_000, 2024, 5
MARGIN = 0.03  # absolute; a regression larger than this fails the gate
RANDOM_FACTOR = 10  # "a wide margin": at least 10x the random baseline
# precision@5 of the shipped defaults on each dataset (see the module docstring)
MEASURED: dict[str, float] = {"realistic": 0.8471, "planted": 0.9600}


def _generator_args(setting: str) -> list[str]:
    if setting == "planted":
        return []
    catalogue = REAL_DATA / "course_tags.csv"
    assert catalogue.exists(), f"the harder gate needs the real course catalogue at {catalogue} (../shared)"
    return ["--setting", setting, "--catalogue", str(catalogue)]


@pytest.mark.slow
@pytest.mark.parametrize("setting", list(MEASURED))
def test_default_pipeline_holds_its_measured_quality(tmp_path: Path, setting: str) -> None:
    t0 = time.perf_counter()
    raw = tmp_path / "raw"
    generated = run_module("datagen", ["--users", str(USERS), "--seed", str(SEED), "--out", str(raw),
                                       *_generator_args(setting)], tmp_path)
    assert generated.returncode == 0, generated.stderr
    db = tmp_path / "ranking.db"
    built = run_module("pipeline", ["--data-dir", str(raw), "--sqlite-path", str(db), "--top-k", str(K)], tmp_path)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]

    ranking, _ = read_ranking(db, "user_ranking")
    methods = {"default": ranking, "idf": idf_cosine_neighbours(tmp_path / "warehouse" / "dev.duckdb", K)}
    methods |= baselines(ranking.users, raw, K, seed=SEED)
    rows = score_methods(methods, K, truth=read_truth(raw / "truth" / "user_groups.csv"))
    precision, idf_p = rows["default"]["precision"], rows["idf"]["precision"]
    random_p, active_p = rows[RANDOM]["precision"], rows[ACTIVE]["precision"]
    floor = MEASURED[setting] - MARGIN
    summary = (f"{setting}: precision@{K}={precision:.4f} (measured {MEASURED[setting]:.4f}, floor {floor:.4f}); "
               f"IDF baseline {idf_p:.4f}; random {random_p:.4f}; most active users {active_p:.4f}; "
               f"{time.perf_counter() - t0:.0f} s")
    print(summary)

    assert precision >= floor, f"quality regression: {summary}"
    assert precision <= MEASURED[setting] + MARGIN, f"better than measured: re-measure and raise the floor: {summary}"
    assert precision > idf_p, f"does not beat the IDF sparse-cosine baseline: {summary}"
    assert precision >= RANDOM_FACTOR * random_p, f"too close to random: {summary}"
    assert precision > active_p, f"does not beat the most-active-users baseline: {summary}"
