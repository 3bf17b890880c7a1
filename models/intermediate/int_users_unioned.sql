-- Every user that appears in any cleaned user table: the set that gets ranked.
with

interests as (
    select distinct user_handle from {{ ref('stg_user_interests') }}
),

assessments as (
    select distinct user_handle from {{ ref('stg_user_assessment_scores') }}
),

views as (
    select distinct user_handle from {{ ref('stg_user_course_views') }}
),

unioned as (
    select
        coalesce(interests.user_handle, assessments.user_handle, views.user_handle) as user_handle,
        interests.user_handle is not null as has_interests,
        assessments.user_handle is not null as has_assessments,
        views.user_handle is not null as has_course_views
    from interests
    full outer join assessments on interests.user_handle = assessments.user_handle
    full outer join views
        on coalesce(interests.user_handle, assessments.user_handle) = views.user_handle
)

select * from unioned
order by user_handle
