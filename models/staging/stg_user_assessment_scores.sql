-- Cleaned user assessment scores: the rows of base_user_assessment_scores that no rule dropped.
with

flagged as (
    select * from {{ ref('base_user_assessment_scores') }}
),

kept as (
    select
        user_handle,
        assessment_tag,
        assessment_score,
        assessed_at
    from flagged
    where drop_reason is null
)

select * from kept
