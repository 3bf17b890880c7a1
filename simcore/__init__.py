"""Numeric core of the user-similarity recommender.

Pure functions over numpy / scipy.sparse arrays, unit-tested on their own and
called by the thin dbt Python models in ``python_models/``:

- :mod:`simcore.matrix`   long (user, feature, value) rows -> sparse user x feature matrix
- :mod:`simcore.svd`      TruncatedSVD to a cumulative explained-variance target
- :mod:`simcore.ensemble` weight validation and the weighted cosine ensemble
- :mod:`simcore.topk`     exact block-wise top k, never holding the n x n matrix
- :mod:`simcore.tables`   Arrow in / Arrow out glue used by the dbt models
"""
