-- Why each ranked pair was matched: what the two users share on each signal.
-- The API's `explain=true` reads these (as published to SQLite), so nothing is
-- recomputed at request time. Lists hold at most var `reasons_max_items`
-- items, alphabetically; the n_shared_* counts are complete.
--
-- Each user's items are gathered into one row of lists, one list per kind
-- (assessments: one tag -> bin map), and each ranked pair intersects the two
-- users' lists. Pairs are joined to users only, never two users' items to each
-- other on the item, so a popular tag cannot multiply rows; at 100,000 users
-- this takes 6.0-6.3 s and 1.1 GB where a join per shared item took 9.3 s and
-- 2.2 GB (and a list CTE per kind, eight joins, 6.3 s and 1.3 GB).
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

-- every user's items, tagged with their kind (each item once per user: the inputs are unique
-- per user and item)
user_items as (
    select
        user_handle,
        'interest' as item_kind,
        interest_tag as item,
        null as score_bin
    from interests
    union all
    select
        user_handle,
        'course_tag' as item_kind,
        course_tag as item,
        null as score_bin
    from viewed_course_tags
    union all
    select
        user_handle,
        'course' as item_kind,
        course_id as item,
        null as score_bin
    from viewed_courses
    union all
    select
        user_handle,
        'assessment' as item_kind,
        assessment_tag as item,
        score_bin
    from assessments
),

-- one row per user: a list per kind (null when the user has none), assessments as a tag -> bin map
items_by_user as (
    select
        user_handle,
        list(item) filter (where item_kind = 'interest') as interests,
        list(item) filter (where item_kind = 'course_tag') as course_tags,
        list(item) filter (where item_kind = 'course') as courses,
        map(
            list(item) filter (where item_kind = 'assessment'),
            list(score_bin) filter (where item_kind = 'assessment')
        ) as score_bins
    from user_items
    group by user_handle
),

shared as (
    select
        ranking.user_handle,
        ranking.similar_user_handle,
        list_sort(list_intersect(mine.interests, theirs.interests)) as interests,
        list_sort(list_intersect(mine.course_tags, theirs.course_tags)) as course_tags,
        list_sort(list_intersect(mine.courses, theirs.courses)) as courses,
        list_sort(list_intersect(map_keys(mine.score_bins), map_keys(theirs.score_bins))) as assessment_tags,
        mine.score_bins as my_score_bins,
        theirs.score_bins as their_score_bins
    from ranking
    left join items_by_user as mine on ranking.user_handle = mine.user_handle
    left join items_by_user as theirs on ranking.similar_user_handle = theirs.user_handle
),

joined as (
    select
        -- ids
        user_handle,
        similar_user_handle,

        -- counts
        coalesce(len(interests), 0) as n_shared_interests,
        coalesce(len(course_tags), 0) as n_shared_course_tags,
        coalesce(len(courses), 0) as n_shared_courses,
        coalesce(len(assessment_tags), 0) as n_shared_assessments,

        -- lists
        coalesce(interests[1:{{ max_items }}], []) as shared_interests,
        coalesce(course_tags[1:{{ max_items }}], []) as shared_course_tags,
        coalesce(courses[1:{{ max_items }}], []) as shared_courses,
        coalesce(
            list_transform(
                assessment_tags[1:{{ max_items }}],
                lambda tag: struct_pack(
                    tag := tag, user_bin := my_score_bins[tag], similar_user_bin := their_score_bins[tag]
                )
            ),
            []::struct(tag varchar, user_bin varchar, similar_user_bin varchar)[]
        ) as shared_assessments

    from shared
)

select * from joined
