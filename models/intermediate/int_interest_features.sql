-- Interest signal in long form: one feature per followed tag, value 1.
with

interests as (
    select * from {{ ref('stg_user_interests') }}
),

features as (
    select
        user_handle,
        'tag:' || interest_tag as feature,
        1.0 as value
    from interests
)

select * from features
