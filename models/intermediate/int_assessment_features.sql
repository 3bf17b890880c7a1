-- Assessment signal in long form: one feature per assessment tag taken and one
-- per (tag, score bin), so users match on topic and, more strongly, on level.
with

binned as (
    select * from {{ ref('int_assessment_scores_binned') }}
),

taken as (
    select
        user_handle,
        'assessment:' || assessment_tag as feature,
        1.0 as value
    from binned
),

taken_at_level as (
    select
        user_handle,
        'assessment:' || assessment_tag || ':' || score_bin as feature,
        1.0 as value
    from binned
),

features as (
    select * from taken
    union all
    select * from taken_at_level
)

select * from features
