-- The ranking exactly as published to SQLite: one row per (user, rank) with the
-- per-signal scores and the reasons, lists encoded as JSON text. The publisher
-- copies this model row for row; its columns (in this order) are the published
-- table's contract (`contract: enforced` in _marts.yml).
with

ranking as (
    select
        user_handle,
        rank,
        similar_user_handle,
        score,
        score_interests,
        score_assessments,
        score_course_views,
        run_id,
        run_at
    from {{ ref('user_ranking') }}
),

reasons as (
    select
        user_handle,
        similar_user_handle,
        n_shared_interests,
        n_shared_course_tags,
        n_shared_courses,
        n_shared_assessments,
        shared_interests,
        shared_course_tags,
        shared_courses,
        shared_assessments
    from {{ ref('user_ranking_reasons') }}
),

published as (
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
    from ranking
    left join reasons
        on
            ranking.user_handle = reasons.user_handle
            and ranking.similar_user_handle = reasons.similar_user_handle
)

select * from published
