-- Course-view signal in long form: the tags of the courses a user watched, the
-- (tag, view-time bin) pairs and the course levels. value = how many of the
-- user's courses carry the feature.
with

views as (
    select * from {{ ref('int_course_views_binned') }}
),

tags as (
    select * from {{ ref('stg_course_tags') }}
),

tagged as (
    select
        views.user_handle,
        tags.course_tag,
        views.view_time_bin
    from views
    inner join tags on views.course_id = tags.course_id
),

features as (
    select
        user_handle,
        'course_tag:' || course_tag as feature
    from tagged
    union all
    select
        user_handle,
        'course_tag:' || course_tag || ':' || view_time_bin as feature
    from tagged
    union all
    select
        user_handle,
        'level:' || level as feature
    from views
),

counted as (
    select
        user_handle,
        feature,
        count(*)::double as value
    from features
    group by user_handle, feature
)

select * from counted
