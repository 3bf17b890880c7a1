"""Read the built ranking out of the DuckDB warehouse, ready to publish."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

RANKING_QUERY = """
select
    ranking.user_handle,
    ranking.rank,
    ranking.similar_user_handle,
    ranking.score,
    ranking.score_interests,
    ranking.score_assessments,
    ranking.score_course_views,
    reasons.n_shared_interests,
    reasons.n_shared_course_tags,
    reasons.n_shared_courses,
    reasons.n_shared_assessments,
    to_json(reasons.shared_interests)::varchar as shared_interests,
    to_json(reasons.shared_course_tags)::varchar as shared_course_tags,
    to_json(reasons.shared_courses)::varchar as shared_courses,
    to_json(reasons.shared_assessments)::varchar as shared_assessments,
    ranking.run_id,
    ranking.run_at
from user_ranking as ranking
left join user_ranking_reasons as reasons
    using (user_handle, similar_user_handle)
order by ranking.user_handle, ranking.rank
"""


def read_ranking(warehouse: Path, run_id: str) -> pa.Table:
    """The ranking with its reasons; refuses a warehouse that holds another run's ranking."""
    con = duckdb.connect(str(warehouse))
    try:
        runs = [r[0] for r in con.sql("select distinct run_id from user_ranking").fetchall()]
        if runs != [run_id]:
            raise RuntimeError(f"warehouse ranking belongs to run(s) {runs}, expected {run_id}")
        return con.sql(RANKING_QUERY).to_arrow_table()
    finally:
        con.close()
