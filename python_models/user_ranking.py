"""Top k similar users of every user: the weighted cosine ensemble of the three signals."""
from simcore.tables import rank_users
from simcore.threads import blas_threads


def model(dbt, session):
    dbt.config(materialized="table")
    users = dbt.ref("int_users_unioned").to_arrow_table()
    vectors = {
        "interests": dbt.ref("user_vectors_interests").to_arrow_table(),
        "assessments": dbt.ref("user_vectors_assessments").to_arrow_table(),
        "course_views": dbt.ref("user_vectors_course_views").to_arrow_table(),
    }
    weights = {
        "interests": float(dbt.config.get("weight_interests")),
        "assessments": float(dbt.config.get("weight_assessments")),
        "course_views": float(dbt.config.get("weight_course_views")),
    }
    top_k = int(dbt.config.get("top_k"))
    run_id = str(dbt.config.get("run_id"))
    run_at = str(dbt.config.get("run_at"))
    with blas_threads():
        ranking = rank_users(users, vectors, weights, top_k, run_id, run_at)
    return ranking
