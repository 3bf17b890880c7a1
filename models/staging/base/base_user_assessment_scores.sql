-- Every raw assessment row, typed, with the reason it is dropped (null = kept)
-- and the cleaning rules that changed it. The cleaning rules of this table
-- live here and only here.
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
        assessment_tag as raw_assessment_tag,

        -- ids
        {{ parse_handle('user_handle') }} as user_handle,

        -- strings
        {{ normalize_tag('assessment_tag') }} as assessment_tag,

        -- numerics
        try_cast({{ strip('user_assessment_score') }} as double) as assessment_score,

        -- timestamps
        try_cast({{ strip('user_assessment_date') }} as timestamp) as assessed_at

    from source
),

validated as (
    select
        *,
        case
            {{ user_handle_rules() }}
            when assessment_tag is null then 'missing_tag'
            when assessed_at is null then 'invalid_date'
            when assessment_score is null or isnan(assessment_score) then 'invalid_score'
            -- the platform's scale is 0..300; infinities are out of it too
            when assessment_score < 0 or assessment_score > 300 then 'score_out_of_range'
        end as invalid_reason,
        {{ cleaned_rules([
            ('handle_normalised', 'raw_user_handle', 'user_handle'),
            ('tag_normalised', 'raw_assessment_tag', 'assessment_tag'),
        ]) }} as cleaned_rules
    from typed
),

flagged as (
    select
        *,
        -- an assessment taken twice keeps the latest attempt
        {{ drop_reason(['user_handle', 'assessment_tag'], 'assessed_at desc, raw_record') }} as drop_reason
    from validated
)

select * exclude (raw_user_handle, raw_assessment_tag, invalid_reason) from flagged
