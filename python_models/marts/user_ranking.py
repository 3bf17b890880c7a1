"""Top k similar users of every user: the weighted cosine ensemble of the three signals, smoothed."""
import pyarrow.compute as pc

from simcore.strategy import TopKStrategy
from simcore.tables import rank_users
from simcore.threads import blas_threads


def model(dbt, session):
    top_k = dbt.config.get("top_k")
    run_id = dbt.config.get("run_id")
    run_at = dbt.config.get("run_at")
    executor = dbt.config.get("topk_executor")
    block_rows = int(dbt.config.get("topk_block_rows"))
    weights = {signal: float(w) for signal, w in dbt.config.get("weights").items()}
    users = dbt.ref("int_users_unioned").to_arrow_table()
    vectors = {
        "interests": dbt.ref("user_vectors_interests").to_arrow_table(),
        "assessments": dbt.ref("user_vectors_assessments").to_arrow_table(),
        "course_views": dbt.ref("user_vectors_course_views").to_arrow_table(),
    }
    neighbourhoods = dbt.ref("user_neighbourhoods").to_arrow_table()
    # the strategy user_neighbourhoods resolved for this run (no users: nothing to search)
    methods = pc.unique(neighbourhoods.column("topk_method")).to_pylist() or ["exact"]
    strategy = TopKStrategy(methods[0], str(executor))
    with blas_threads():
        ranking = rank_users(users, vectors, weights, int(top_k), str(run_id), str(run_at),
                             strategy=strategy, block_rows=block_rows or None, neighbourhoods=neighbourhoods)
    return ranking
