"""First pass of the ranking: every user's nearest users on the plain vectors, for the smoothing."""
from simcore.strategy import resolve_strategy
from simcore.tables import user_neighbourhoods
from simcore.threads import blas_threads


def model(dbt, session):
    m = int(dbt.config.get("smoothing_neighbours"))
    method = dbt.config.get("topk_method")
    exact_max_users = dbt.config.get("topk_exact_max_users")
    executor = dbt.config.get("topk_executor")
    block_rows = int(dbt.config.get("topk_block_rows"))
    weights = {signal: float(w) for signal, w in dbt.config.get("weights").items()}
    users = dbt.ref("int_users_unioned").to_arrow_table()
    vectors = {
        "interests": dbt.ref("user_vectors_interests").to_arrow_table(),
        "assessments": dbt.ref("user_vectors_assessments").to_arrow_table(),
        "course_views": dbt.ref("user_vectors_course_views").to_arrow_table(),
    }
    # the run's one decision of how to search; recorded in column topk_method for the models after
    strategy = resolve_strategy(str(method), users.num_rows, int(exact_max_users), str(executor))
    with blas_threads():
        neighbourhoods = user_neighbourhoods(users, vectors, weights, m, strategy, block_rows or None)
    return neighbourhoods
