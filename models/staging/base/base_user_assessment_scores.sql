-- Every raw assessment row, typed, with the reason it is dropped (null = kept).
-- The cleaning rules of this table live here and only here.
with

source as (
    select * from {{ source('raw', 'user_assessment_scores') }}
),

typed as (
    select
        -- raw values, for the audit sample
        {{ raw_record(['user_handle', 'assessment_tag', 'user_assessment_date', 'user_assessment_score']) }}
            as raw_record,
        user_handle as raw_user_handle,

        -- ids
        try_cast(trim(user_handle) as bigint) as user_handle,

        -- strings
        {{ normalize_tag('assessment_tag') }} as assessment_tag,

        -- numerics
        try_cast(trim(user_assessment_score) as double) as assessment_score,

        -- timestamps
        try_cast(trim(user_assessment_date) as timestamp) as assessed_at

    from source
),

validated as (
    select
        *,
        case
            {{ user_handle_rules() }}
            when assessment_tag is null then 'missing_tag'
            when assessed_at is null then 'invalid_date'
            when assessment_score is null or assessment_score < 0 or assessment_score > 300 then 'invalid_score'
        end as invalid_reason
    from typed
),

flagged as (
    select
        *,
        -- an assessment taken twice keeps the latest attempt
        {{ drop_reason(['user_handle', 'assessment_tag'], 'assessed_at desc, raw_record') }} as drop_reason
    from validated
)

select * exclude (raw_user_handle, invalid_reason) from flagged
