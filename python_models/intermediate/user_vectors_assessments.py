"""assessments signal: sparse user x feature matrix -> TruncatedSVD -> L2-normalised user vectors."""
from simcore.tables import ComponentRule, signal_vectors
from simcore.threads import blas_threads


def model(dbt, session):
    features = dbt.ref("int_assessment_features").to_arrow_table()
    cap = int(dbt.config.get("max_components"))
    rule = ComponentRule(
        target=float(dbt.config.get("variance_target")),
        growth=float(dbt.config.get("variance_growth")),
        reference_users=int(dbt.config.get("variance_reference_users")),
        max_share=float(dbt.config.get("variance_max")),
        max_components=cap or None,
    )
    with blas_threads():
        vectors = signal_vectors(features, rule, "assessments")
    return vectors
