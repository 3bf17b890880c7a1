"""recall@k of the published top k against exact top k on a random user sample (one row per run).

Its vector inputs repeat user_ranking's on purpose: dbt finds refs and config keys by reading
each model file for literal dbt.ref(...) and dbt.config.get(...) calls, so they cannot move to a helper.
The search method is not worked out again: user_ranking records the one it ran.
"""
import pyarrow as pa
import pyarrow.compute as pc

from simcore.tables import ranking_recall
from simcore.threads import blas_threads


def model(dbt, session):
    run_id = dbt.config.get("run_id")
    seed = dbt.config.get("topk_seed")
    sample = dbt.config.get("topk_recall_sample")
    floor = dbt.config.get("topk_recall_floor")
    weights = {signal: float(w) for signal, w in dbt.config.get("weights").items()}
    users = dbt.ref("int_users_unioned").to_arrow_table()
    vectors = {
        "interests": dbt.ref("user_vectors_interests").to_arrow_table(),
        "assessments": dbt.ref("user_vectors_assessments").to_arrow_table(),
        "course_views": dbt.ref("user_vectors_course_views").to_arrow_table(),
    }
    neighbourhoods = dbt.ref("user_neighbourhoods").to_arrow_table()
    ranking = dbt.ref("user_ranking").project("user_handle, rank, similar_user_handle, topk_method").to_arrow_table()
    methods = pc.unique(ranking.column("topk_method")).to_pylist()
    with blas_threads():
        recall = ranking_recall(users, vectors, weights, ranking, int(sample), seed=int(seed),
                                neighbourhoods=neighbourhoods)
    return pa.table({
        "run_id": [str(run_id)],
        "topk_method": pa.array(methods[:1] or [None], pa.string()),
        "n_users": pa.array([users.num_rows], pa.int64()),
        "k": pa.array([recall.k], pa.int32()),
        "sample_size": pa.array([recall.sample_size], pa.int32()),
        "recall_at_k": pa.array([recall.recall], pa.float64()),
        "recall_floor": pa.array([float(floor)], pa.float64()),
    })
