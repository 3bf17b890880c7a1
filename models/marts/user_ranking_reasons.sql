-- Why each ranked pair was matched: what the two users share on each signal.
-- The API's `explain=true` reads these (as published to SQLite), so nothing is
-- recomputed at request time. Lists hold at most var `reasons_max_items`
-- items, alphabetically; the n_shared_* counts are complete.
{%- set max_items = var('reasons_max_items') %}
with

ranking as (
    select user_handle, similar_user_handle from {{ ref('user_ranking') }}
),

interests as (
    select user_handle, interest_tag from {{ ref('stg_user_interests') }}
),

viewed_courses as (
    select user_handle, course_id from {{ ref('int_course_views_summed') }}
),

viewed_course_tags as (
    select distinct viewed_courses.user_handle, tags.course_tag
    from viewed_courses
    inner join {{ ref('stg_course_tags') }} as tags on viewed_courses.course_id = tags.course_id
),

assessments as (
    select user_handle, assessment_tag, score_bin from {{ ref('int_assessment_scores_binned') }}
),

shared_interests as (
    select
        ranking.user_handle,
        ranking.similar_user_handle,
        count(*) as n_shared_interests,
        list(mine.interest_tag order by mine.interest_tag)[1:{{ max_items }}] as shared_interests
    from ranking
    inner join interests as mine on ranking.user_handle = mine.user_handle
    inner join interests as theirs
        on ranking.similar_user_handle = theirs.user_handle
        and mine.interest_tag = theirs.interest_tag
    group by ranking.user_handle, ranking.similar_user_handle
),

shared_courses as (
    select
        ranking.user_handle,
        ranking.similar_user_handle,
        count(*) as n_shared_courses,
        list(mine.course_id order by mine.course_id)[1:{{ max_items }}] as shared_courses
    from ranking
    inner join viewed_courses as mine on ranking.user_handle = mine.user_handle
    inner join viewed_courses as theirs
        on ranking.similar_user_handle = theirs.user_handle
        and mine.course_id = theirs.course_id
    group by ranking.user_handle, ranking.similar_user_handle
),

shared_course_tags as (
    select
        ranking.user_handle,
        ranking.similar_user_handle,
        count(*) as n_shared_course_tags,
        list(mine.course_tag order by mine.course_tag)[1:{{ max_items }}] as shared_course_tags
    from ranking
    inner join viewed_course_tags as mine on ranking.user_handle = mine.user_handle
    inner join viewed_course_tags as theirs
        on ranking.similar_user_handle = theirs.user_handle
        and mine.course_tag = theirs.course_tag
    group by ranking.user_handle, ranking.similar_user_handle
),

shared_assessments as (
    select
        ranking.user_handle,
        ranking.similar_user_handle,
        count(*) as n_shared_assessments,
        list(
            {'tag': mine.assessment_tag, 'user_bin': mine.score_bin, 'similar_user_bin': theirs.score_bin}
            order by mine.assessment_tag
        )[1:{{ max_items }}] as shared_assessments
    from ranking
    inner join assessments as mine on ranking.user_handle = mine.user_handle
    inner join assessments as theirs
        on ranking.similar_user_handle = theirs.user_handle
        and mine.assessment_tag = theirs.assessment_tag
    group by ranking.user_handle, ranking.similar_user_handle
),

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
    left join shared_interests using (user_handle, similar_user_handle)
    left join shared_course_tags using (user_handle, similar_user_handle)
    left join shared_courses using (user_handle, similar_user_handle)
    left join shared_assessments using (user_handle, similar_user_handle)
)

select * from joined
