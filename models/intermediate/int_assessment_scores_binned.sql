-- Each cleaned assessment with its score bin.
with

scores as (
    select * from {{ ref('stg_user_assessment_scores') }}
),

bins as (
    select * from {{ ref('int_assessment_score_bins') }}
),

binned as (
    select
        scores.user_handle,
        scores.assessment_tag,
        scores.assessment_score,
        bins.bin_number as score_bin_number,
        bins.bin_label as score_bin
    from scores
    inner join bins on {{ in_bin('scores.assessment_score', 'bins') }}
)

select * from binned
