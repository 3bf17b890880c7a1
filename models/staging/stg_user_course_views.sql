-- Cleaned user course views: the rows of base_user_course_views that no rule dropped.
with

flagged as (
    select * from {{ ref('base_user_course_views') }}
),

kept as (
    select
        user_handle,
        course_id,
        author_handle,
        level,
        view_time_seconds,
        view_date
    from flagged
    where drop_reason is null
)

select * from kept
