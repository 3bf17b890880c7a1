-- Quantile edges of assessment scores (var score_bins, default 3: low / medium / high).
-- Computed once here; int_assessment_scores_binned and the docs read them.
with

scores as (
    select assessment_score from {{ ref('stg_user_assessment_scores') }}
),

edges as (
    {{ quantile_bin_edges('scores', 'assessment_score', var('score_bins')) }}
)

select * from edges
order by bin_number
