-- Assessment signal in long form: one feature per assessment tag taken and one
-- per (tag, score bin), so users match on topic and, more strongly, on level;
-- weighted by rarity among assessed users (macro idf_weighted).
with

binned as (
    select * from {{ ref('int_assessment_scores_binned') }}
),

taken as (
    select
        user_handle,
        'assessment:' || assessment_tag as feature
    from binned
),

taken_at_level as (
    select
        user_handle,
        'assessment:' || assessment_tag || ':' || score_bin as feature
    from binned
),

taken_features as (
    select * from taken
    union all
    select * from taken_at_level
),

strengths as (
    select
        user_handle,
        feature,
        count(*)::double as strength
    from taken_features
    group by user_handle, feature
),

weighted as (
    {{ idf_weighted('strengths') }}
)

select * from weighted
