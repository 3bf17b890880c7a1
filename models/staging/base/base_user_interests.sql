-- Every raw interest row, typed, with the reason it is dropped (null = kept)
-- and the cleaning rules that changed it. The cleaning rules of this table
-- live here and only here.
with

source as (
    select * from {{ source('raw', 'user_interests') }}
),

typed as (
    select
        -- raw values, for the audit sample
        {{ raw_record(['user_handle', 'interest_tag', 'date_followed']) }} as raw_record,
        user_handle as raw_user_handle,
        interest_tag as raw_interest_tag,

        -- ids
        {{ parse_handle('user_handle') }} as user_handle,

        -- strings
        {{ normalize_tag('interest_tag') }} as interest_tag,

        -- timestamps
        try_cast({{ strip('date_followed') }} as timestamp) as followed_at

    from source
),

validated as (
    select
        *,
        case
            {{ user_handle_rules() }}
            when interest_tag is null then 'missing_tag'
            when followed_at is null then 'invalid_date'
        end as invalid_reason,
        {{ cleaned_rules([
            ('handle_normalised', 'raw_user_handle', 'user_handle'),
            ('tag_normalised', 'raw_interest_tag', 'interest_tag'),
        ]) }} as cleaned_rules
    from typed
),

flagged as (
    select
        *,
        -- a (user, tag) followed twice keeps its first follow
        {{ drop_reason(['user_handle', 'interest_tag'], 'followed_at, raw_record') }} as drop_reason
    from validated
)

select * exclude (raw_user_handle, raw_interest_tag, invalid_reason) from flagged
