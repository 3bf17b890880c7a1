{#- Labels of n quantile bins, lowest first. 3 and 4 bins use the product's
    names; any other count gets q1..qn (qn holds the largest values). -#}
{% macro quantile_bin_labels(n_bins) -%}
    {%- if n_bins | int == 3 -%}
        {{ return(['low', 'medium', 'high']) }}
    {%- elif n_bins | int == 4 -%}
        {{ return(['very low', 'low', 'medium', 'high']) }}
    {%- else -%}
        {%- set labels = [] -%}
        {%- for i in range(1, n_bins | int + 1) -%}{%- do labels.append('q' ~ i) -%}{%- endfor -%}
        {{ return(labels) }}
    {%- endif -%}
{%- endmacro %}


{#- Bin edges as rows (bin_number, bin_label, lower_bound, upper_bound) from
    the quantiles of `column` in `relation`. Bin i holds values v with
    lower_bound <= v < upper_bound; the first bin has no lower bound and the
    last no upper bound, so every value lands in exactly one bin. -#}
{% macro quantile_bin_edges(relation, column, n_bins) -%}
    {%- set n = n_bins | int -%}
    {%- if n < 2 -%}
        {{ exceptions.raise_compiler_error("quantile bins need at least 2 bins, got " ~ n) }}
    {%- endif -%}
    {%- set labels = quantile_bin_labels(n) %}
    with cuts as (
        select
            quantile_cont(
                {{ column }},
                [{% for i in range(1, n) %}{{ i }} / {{ n }}{% if not loop.last %}, {% endif %}{% endfor %}]
            ) as cut_points,
            count(*) as n_values
        from {{ relation }}
    ),

    bins as (
        select
            unnest(range(1, {{ n + 1 }})) as bin_number,
            unnest({{ labels | tojson | replace('"', "'") }}) as bin_label
    )

    select
        bins.bin_number,
        bins.bin_label,
        case when bins.bin_number > 1 then cuts.cut_points[bins.bin_number - 1] end as lower_bound,
        case when bins.bin_number < {{ n }} then cuts.cut_points[bins.bin_number] end as upper_bound,
        cuts.n_values as n_values_binned
    from bins
    cross join cuts
{%- endmacro %}


{#- Join condition that puts `value` into the bin row `bins`. -#}
{% macro in_bin(value, bins) -%}
    ({{ value }} >= coalesce({{ bins }}.lower_bound, '-infinity'::double)
     and {{ value }} < coalesce({{ bins }}.upper_bound, 'infinity'::double))
{%- endmacro %}
