-- Cleaned user interests: the rows of base_user_interests that no rule dropped.
with

flagged as (
    select * from {{ ref('base_user_interests') }}
),

kept as (
    select
        user_handle,
        interest_tag,
        followed_at
    from flagged
    where drop_reason is null
)

select * from kept
