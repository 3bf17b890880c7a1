-- Quantile edges of per-(user, course) view time (var view_time_bins, default 4:
-- very low / low / medium / high). Computed once here.
with

totals as (
    select view_time_seconds from {{ ref('int_course_views_summed') }}
),

edges as (
    {{ quantile_bin_edges('totals', 'view_time_seconds', var('view_time_bins')) }}
)

select * from edges
order by bin_number
