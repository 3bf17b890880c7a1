-- Every raw course-tag row, typed, with the reason it is dropped (null = kept)
-- and the cleaning rules that changed it. The cleaning rules of this table
-- live here and only here.
with

source as (
    select * from {{ source('raw', 'course_tags') }}
),

typed as (
    select
        -- raw values, for the audit sample
        {{ raw_record(['course_id', 'course_tags']) }} as raw_record,
        course_id as raw_course_id,
        course_tags as raw_course_tag,

        -- ids
        {{ normalize_course_id('course_id') }} as course_id,

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
        end as invalid_reason,
        {{ cleaned_rules([
            ('course_id_normalised', 'raw_course_id', 'course_id'),
            ('tag_normalised', 'raw_course_tag', 'course_tag'),
        ]) }} as cleaned_rules
    from typed
),

flagged as (
    select
        *,
        {{ drop_reason(['course_id', 'course_tag'], 'raw_record') }} as drop_reason
    from validated
)

select * exclude (raw_course_id, raw_course_tag, invalid_reason) from flagged
