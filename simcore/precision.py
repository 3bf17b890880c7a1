"""The published precision of every similarity score: the one place it is decided.

A score is a cosine in [-1, 1]. The user vectors are stored in float32
(relative error 6e-8) and every published score is recomputed in float64
from them (:mod:`simcore.scoring`), so six decimals are meaningful and a
seventh is not. Scores are rounded to this many decimals before ties are
broken, before anything compares them and before they are published.
"""
from __future__ import annotations

SCORE_DECIMALS = 6
