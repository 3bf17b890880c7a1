"""assessments signal: sparse user x feature matrix -> TruncatedSVD -> L2-normalised user vectors."""
from simcore.tables import ComponentRule, signal_vectors
from simcore.threads import blas_threads


def model(dbt, session):
    features = dbt.ref("int_assessment_features").to_arrow_table()
    rule = ComponentRule.from_config(dbt.config.get("component_rule"))
    with blas_threads():
        vectors = signal_vectors(features, rule, "assessments")
    return vectors
