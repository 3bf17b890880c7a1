-- Why each ranked pair was matched: what the two users share on each signal.
-- The API's `explain=true` reads these (as published to SQLite), so nothing is
-- recomputed at request time. Lists hold at most var `reasons_max_items`
-- items, alphabetically; the n_shared_* counts are complete.
{%- set max_items = var('reasons_max_items') %}
with

ranking as (
    select
        user_handle,
        similar_user_handle
    from {{ ref('user_ranking') }}
),

interests as (
    select
        user_handle,
        interest_tag
    from {{ ref('stg_user_interests') }}
),

viewed_courses as (
    select
        user_handle,
        course_id
    from {{ ref('int_course_views_summed') }}
),

viewed_course_tags as (
    select distinct
        viewed_courses.user_handle,
        tags.course_tag
    from viewed_courses
    inner join {{ ref('stg_course_tags') }} as tags on viewed_courses.course_id = tags.course_id
),

assessments as (
    select
        user_handle,
        assessment_tag,
        score_bin
    from {{ ref('int_assessment_scores_binned') }}
),

{{ shared_items('interests', 'interests', 'interest_tag', 'mine.interest_tag', max_items) }},

{{ shared_items('course_tags', 'viewed_course_tags', 'course_tag', 'mine.course_tag', max_items) }},

{{ shared_items('courses', 'viewed_courses', 'course_id', 'mine.course_id', max_items) }},

{{ shared_items(
    'assessments', 'assessments', 'assessment_tag',
    "{'tag': mine.assessment_tag, 'user_bin': mine.score_bin, 'similar_user_bin': theirs.score_bin}",
    max_items,
) }},

joined as (
    select
        -- ids
        ranking.user_handle,
        ranking.similar_user_handle,

        -- counts
        coalesce(shared_interests.n_shared_interests, 0) as n_shared_interests,
        coalesce(shared_course_tags.n_shared_course_tags, 0) as n_shared_course_tags,
        coalesce(shared_courses.n_shared_courses, 0) as n_shared_courses,
        coalesce(shared_assessments.n_shared_assessments, 0) as n_shared_assessments,

        -- lists
        coalesce(shared_interests.shared_interests, []) as shared_interests,
        coalesce(shared_course_tags.shared_course_tags, []) as shared_course_tags,
        coalesce(shared_courses.shared_courses, []) as shared_courses,
        coalesce(
            shared_assessments.shared_assessments,
            []::struct(tag varchar, user_bin varchar, similar_user_bin varchar)[]
        ) as shared_assessments

    from ranking
    left join shared_interests
        on
            ranking.user_handle = shared_interests.user_handle
            and ranking.similar_user_handle = shared_interests.similar_user_handle
    left join shared_course_tags
        on
            ranking.user_handle = shared_course_tags.user_handle
            and ranking.similar_user_handle = shared_course_tags.similar_user_handle
    left join shared_courses
        on
            ranking.user_handle = shared_courses.user_handle
            and ranking.similar_user_handle = shared_courses.similar_user_handle
    left join shared_assessments
        on
            ranking.user_handle = shared_assessments.user_handle
            and ranking.similar_user_handle = shared_assessments.similar_user_handle
)

select * from joined
