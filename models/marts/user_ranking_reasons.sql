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

my_interests as materialized (
    select
        ranking.user_handle,
        ranking.similar_user_handle,
        interests.interest_tag
    from ranking
    inner join interests on ranking.user_handle = interests.user_handle
),

shared_interests as (
    select
        mine.user_handle,
        mine.similar_user_handle,
        count(*) as n_shared_interests,
        list(mine.interest_tag order by mine.interest_tag)[1:{{ max_items }}] as shared_interests
    from my_interests as mine
    inner join interests as theirs
        on
            mine.similar_user_handle = theirs.user_handle
            and mine.interest_tag = theirs.interest_tag
    group by mine.user_handle, mine.similar_user_handle
),

my_courses as materialized (
    select
        ranking.user_handle,
        ranking.similar_user_handle,
        viewed_courses.course_id
    from ranking
    inner join viewed_courses on ranking.user_handle = viewed_courses.user_handle
),

shared_courses as (
    select
        mine.user_handle,
        mine.similar_user_handle,
        count(*) as n_shared_courses,
        list(mine.course_id order by mine.course_id)[1:{{ max_items }}] as shared_courses
    from my_courses as mine
    inner join viewed_courses as theirs
        on
            mine.similar_user_handle = theirs.user_handle
            and mine.course_id = theirs.course_id
    group by mine.user_handle, mine.similar_user_handle
),

my_course_tags as materialized (
    select
        ranking.user_handle,
        ranking.similar_user_handle,
        viewed_course_tags.course_tag
    from ranking
    inner join viewed_course_tags on ranking.user_handle = viewed_course_tags.user_handle
),

shared_course_tags as (
    select
        mine.user_handle,
        mine.similar_user_handle,
        count(*) as n_shared_course_tags,
        list(mine.course_tag order by mine.course_tag)[1:{{ max_items }}] as shared_course_tags
    from my_course_tags as mine
    inner join viewed_course_tags as theirs
        on
            mine.similar_user_handle = theirs.user_handle
            and mine.course_tag = theirs.course_tag
    group by mine.user_handle, mine.similar_user_handle
),

my_assessments as materialized (
    select
        ranking.user_handle,
        ranking.similar_user_handle,
        assessments.assessment_tag,
        assessments.score_bin
    from ranking
    inner join assessments on ranking.user_handle = assessments.user_handle
),

shared_assessments as (
    select
        mine.user_handle,
        mine.similar_user_handle,
        count(*) as n_shared_assessments,
        list(
            { 'tag': mine.assessment_tag, 'user_bin': mine.score_bin, 'similar_user_bin': theirs.score_bin }
            order by mine.assessment_tag
        )[1:{{ max_items }}] as shared_assessments
    from my_assessments as mine
    inner join assessments as theirs
        on
            mine.similar_user_handle = theirs.user_handle
            and mine.assessment_tag = theirs.assessment_tag
    group by mine.user_handle, mine.similar_user_handle
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
