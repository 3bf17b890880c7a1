-- View time summed per (user, course), with the course's level and view-time bin.
with

views as (
    select * from {{ ref('stg_user_course_views') }}
),

summed as (
    select
        user_handle,
        course_id,
        -- level is fixed per course; any_value guards against a stray conflict
        any_value(level order by view_date) as level,
        sum(view_time_seconds) as view_time_seconds,
        count(*) as view_days
    from views
    group by user_handle, course_id
)

select * from summed
