-- Each (user, course) view total with its view-time bin.
with

totals as (
    select * from {{ ref('int_course_views_summed') }}
),

bins as (
    select * from {{ ref('int_view_time_bins') }}
),

binned as (
    select
        totals.*,
        bins.bin_number as view_time_bin_number,
        bins.bin_label as view_time_bin
    from totals
    inner join bins on {{ in_bin('totals.view_time_seconds', 'bins') }}
)

select * from binned
