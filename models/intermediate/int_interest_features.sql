-- Interest signal in long form: one feature per followed tag, strength 1,
-- weighted by how rare the tag is among users with interests (macro idf_weighted).
with

interests as (
    select * from {{ ref('stg_user_interests') }}
),

strengths as (
    select
        user_handle,
        'tag:' || interest_tag as feature,
        1.0::double as strength
    from interests
),

weighted as (
    {{ idf_weighted('strengths') }}
)

select * from weighted
