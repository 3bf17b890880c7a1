-- Every raw course-view row, typed, with the reason it is dropped (null = kept).
-- The cleaning rules of this table live here and only here.
with

source as (
    select * from {{ source('raw', 'user_course_views') }}
),

levels as (
    select * from {{ ref('course_levels') }}
),

typed as (
    select
        -- raw values, for the audit sample
        {{ raw_record(['user_handle', 'view_date', 'course_id', 'author_handle', 'level', 'view_time_seconds']) }}
            as raw_record,
        user_handle as raw_user_handle,

        -- ids
        try_cast(trim(user_handle) as bigint) as user_handle,
        nullif(lower(trim(course_id)), '') as course_id,
        try_cast(trim(author_handle) as bigint) as author_handle,

        -- strings
        lower(trim(level)) as level_key,

        -- numerics
        try_cast(trim(view_time_seconds) as bigint) as view_time_seconds,

        -- dates
        try_cast(trim(view_date) as date) as view_date

    from source
),

leveled as (
    -- levels match the seed case-insensitively ('beginner' is 'Beginner')
    select
        typed.* exclude (level_key),  -- noqa: RF02
        levels.level
    from typed
    left join levels
        on typed.level_key = lower(levels.level)
),

validated as (
    select
        *,
        case
            {{ user_handle_rules() }}
            when course_id is null then 'missing_course_id'
            when view_date is null then 'invalid_date'
            when view_time_seconds is null then 'invalid_view_time'
            when view_time_seconds < 0 then 'negative_view_time'
            when level is null then 'invalid_level'
        end as invalid_reason
    from leveled
),

flagged as (
    select
        *,
        -- one row per (user, course, day): a repeated day keeps its longest view
        {{ drop_reason(
            ['user_handle', 'course_id', 'view_date'], 'view_time_seconds desc, raw_record'
        ) }} as drop_reason
    from validated
)

select * exclude (raw_user_handle, invalid_reason) from flagged
