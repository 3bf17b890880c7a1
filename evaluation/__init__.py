"""Offline evaluation of the similar-users ranking: ``python -m evaluation``.

Two ways to say whether "similar users" are similar, both applied to any
neighbour list (a published ranking or a baseline computed here):

- planted groups: on generated data the latent group of every user is known
  (``truth/user_groups.csv``); precision@k is the share of a user's k
  neighbours from the user's own group.
- held-out interactions: hide part of each user's items before the pipeline
  runs, then count how many hidden items the neighbours hold. Works on real
  data, where no truth exists.

Modules, one job each:

- :mod:`evaluation.items`        raw tables -> normalised (user, item) pairs, item matrices
- :mod:`evaluation.holdout`      hide a fraction of each user's items (the ``holdout`` step)
- :mod:`evaluation.neighbours`   neighbour lists: read from SQLite, random and most-active baselines
- :mod:`evaluation.plain_cosine` the no-SVD baseline: sparse cosine on the warehouse feature tables
- :mod:`evaluation.metrics`      precision@k, hit rate@k, recall@k (pure functions)
- :mod:`evaluation.scoring`      one neighbour list -> every metric and its baselines
- :mod:`evaluation.runs`         generate data and run ``python -m pipeline`` as a subprocess
- :mod:`evaluation.compare`      baselines and ablations side by side on one dataset
- :mod:`evaluation.tune`         the small tuning grid, one JSON line per result
- :mod:`evaluation.feature_ablation` plain-cosine feature variants (a pointer for feature work)
- :mod:`evaluation.report`       text tables, JSON and CSV output
- :mod:`evaluation.cli`          the argparse front end
"""
