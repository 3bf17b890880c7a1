-- Cleaned course tags: the rows of base_course_tags that no rule dropped.
with

flagged as (
    select * from {{ ref('base_course_tags') }}
),

kept as (
    select
        course_id,
        course_tag
    from flagged
    where drop_reason is null
)

select * from kept
