-- Every raw course-tag row, typed, with the reason it is dropped (null = kept).
-- The cleaning rules of this table live here and only here.
with

source as (
    select * from {{ source('raw', 'course_tags') }}
),

typed as (
    select
        -- raw values, for the audit sample
        {{ raw_record(['course_id', 'course_tags']) }} as raw_record,

        -- ids
        nullif(lower(trim(course_id)), '') as course_id,

        -- strings
        {{ normalize_tag('course_tags') }} as course_tag

    from source
),

validated as (
    select
        *,
        case
            when course_id is null then 'missing_course_id'
            when course_tag is null then 'missing_tag'
        end as invalid_reason
    from typed
),

flagged as (
    select
        *,
        {{ drop_reason(['course_id', 'course_tag'], 'raw_record') }} as drop_reason
    from validated
)

select * exclude (invalid_reason) from flagged
