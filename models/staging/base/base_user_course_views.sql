-- Every raw course-view row, typed, with the reason it is dropped (null = kept)
-- and the cleaning rules that changed it. The cleaning rules of this table
-- live here and only here.
with

source as (
    select * from {{ source('raw', 'user_course_views') }}
),

levels as (
    select * from {{ ref('course_levels') }}
),

catalogue as (
    -- a course is known when course_tags lists it, even with an empty tag
    select distinct course_id from {{ ref('base_course_tags') }}
    where course_id is not null
),

catalogue_size as (
    select count(*) as n_courses from catalogue
),

typed as (
    select
        -- raw values, for the audit sample
        {{ raw_record(['user_handle', 'view_date', 'course_id', 'author_handle', 'level', 'view_time_seconds']) }}
            as raw_record,
        user_handle as raw_user_handle,
        course_id as raw_course_id,
        level as raw_level,
        view_time_seconds as raw_view_time_seconds,

        -- ids
        {{ parse_handle('user_handle') }} as user_handle,
        {{ normalize_course_id('course_id') }} as course_id,
        {{ parse_handle('author_handle') }} as author_handle,

        -- strings
        lower({{ strip('level') }}) as level_key,

        -- numerics: any decimal notation, rounded to whole seconds when valid
        try_cast({{ strip('view_time_seconds') }} as double) as view_time_number,

        -- dates
        try_cast({{ strip('view_date') }} as date) as view_date

    from source
),

leveled as (
    -- levels match the seed case-insensitively ('beginner' is 'Beginner')
    select
        typed.* exclude (level_key),  -- noqa: RF02
        levels.level,
        -- without a catalogue (course_tags has no rows: not available) no view can be checked, so all count
        catalogue.course_id is not null or catalogue_size.n_courses = 0 as is_known_course,
        case
            when typed.view_time_number between 0 and 86400 then round(typed.view_time_number)::bigint
        end as view_time_seconds
    from typed
    left join levels
        on typed.level_key = lower(levels.level)
    left join catalogue
        on typed.course_id = catalogue.course_id
    cross join catalogue_size
),

validated as (
    select
        *,
        case
            {{ user_handle_rules() }}
            when course_id is null then 'missing_course_id'
            when not is_known_course then 'unknown_course'
            when view_date is null then 'invalid_date'
            when view_time_number is null or isnan(view_time_number) then 'invalid_view_time'
            when view_time_number < 0 then 'negative_view_time'
            -- one row is one user, course and day: more than a day's 86,400 s is impossible
            when view_time_number > 86400 then 'absurd_view_time'
            when level is null then 'invalid_level'
        end as invalid_reason,
        {{ cleaned_rules([
            ('handle_normalised', 'raw_user_handle', 'user_handle'),
            ('course_id_normalised', 'raw_course_id', 'course_id'),
            ('level_normalised', 'raw_level', 'level'),
            ('view_time_normalised', 'raw_view_time_seconds', 'view_time_seconds'),
        ]) }} as cleaned_rules
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

select
    * exclude (
        raw_user_handle, raw_course_id, raw_level, raw_view_time_seconds, view_time_number, is_known_course,
        invalid_reason
    )
from flagged
