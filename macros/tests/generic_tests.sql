{#- Generic data tests used in the models' .yml files. Each returns the
    offending rows; zero rows means pass. -#}

{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}


{#- Every non-null value lies in [min_value, max_value]; either bound may be
    left out (a count is at least 0, a duration has no natural maximum).
    Nulls pass: pair with not_null where a column must be filled. -#}
{% test value_between(model, column_name, min_value=none, max_value=none) %}
select {{ column_name }}
from {{ model }}
where
    {%- if min_value is not none %} {{ column_name }} < {{ min_value }}{% endif %}
    {%- if min_value is not none and max_value is not none %} or{% endif %}
    {%- if max_value is not none %} {{ column_name }} > {{ max_value }}{% endif %}
    {%- if min_value is none and max_value is none %} false{% endif %}
{% endtest %}


{% test no_self_pairs(model) %}
select user_handle, similar_user_handle
from {{ model }}
where user_handle = similar_user_handle
{% endtest %}


{#- Every user of `users` has exactly min(expected, n_users - 1) rows. -#}
{% test rows_per_user(model, users, expected) %}
with

universe as (
    select user_handle from {{ users }}
),

wanted as (
    select least({{ expected }}, count(*) - 1) as n_rows from universe
),

counted as (
    select universe.user_handle, count(ranked.user_handle) as n_rows
    from universe
    left join {{ model }} as ranked on universe.user_handle = ranked.user_handle
    group by universe.user_handle
)

select counted.*
from counted
cross join wanted
where counted.n_rows <> wanted.n_rows
{% endtest %}


{#- Each quantile bin holds its share (1 / n_bins) of rows, within
    `tolerance` (ties at an edge make exact shares impossible). Shares of
    fewer than `min_rows` rows say nothing, so tiny inputs are not judged. -#}
{% test bins_hold_share(model, column_name, n_bins, tolerance, min_rows=100) %}
with

counted as (
    select {{ column_name }} as bin_number, count(*) as n_rows
    from {{ model }}
    group by {{ column_name }}
),

shares as (
    select
        bin_number,
        n_rows / sum(n_rows) over () as share,
        sum(n_rows) over () as total_rows
    from counted
)

select *
from shares
where total_rows >= {{ min_rows }}
    and abs(share - 1.0 / {{ n_bins }}) > {{ tolerance }}
{% endtest %}


{#- A higher bin never holds a smaller value than a lower bin: `high`
    really holds the largest values. -#}
{% test bins_ordered(model, column_name, value_column) %}
with

ranges as (
    select {{ column_name }} as bin_number, min({{ value_column }}) as lowest, max({{ value_column }}) as highest
    from {{ model }}
    group by {{ column_name }}
),

overlapping as (
    select lower_bin.bin_number as lower_bin, higher_bin.bin_number as higher_bin
    from ranges as lower_bin
    inner join ranges as higher_bin
        on lower_bin.bin_number < higher_bin.bin_number
        and lower_bin.highest > higher_bin.lowest
)

select * from overlapping
{% endtest %}


{#- A base_* model drops at most `max_share` of its raw rows. More means the
    export changed (a new date format, a renamed level...), and ranking on
    what is left would quietly lose a signal. -#}
{% test drop_share_at_most(model, max_share) %}
select
    count(*) as raw_rows,
    count(*) filter (where drop_reason is not null) as dropped_rows
from {{ model }}
having count(*) filter (where drop_reason is not null) > {{ max_share }} * count(*)
{% endtest %}



{#- The model holds exactly `expected` rows (e.g. one summary row per run). -#}
{% test row_count_equals(model, expected) %}
select count(*) as n_rows
from {{ model }}
having count(*) <> {{ expected }}
{% endtest %}


{#- The rule for course views: a kept view's course is listed in the catalogue
    (`catalogue`, the raw course_tags rows), possibly with an empty tag, which
    keeps the view as a course-identity feature with no tag features. Views of
    unlisted courses are dropped as `unknown_course`; with an empty catalogue
    (course_tags not available) every course counts as known. -#}
{% test course_is_known(model, column_name, catalogue) %}
with

listed as (
    select distinct course_id from {{ catalogue }}
    where course_id is not null
)

select views.{{ column_name }}
from {{ model }} as views
where
    exists (select 1 from listed)
    and views.{{ column_name }} not in (select listed.course_id from listed)
{% endtest %}


{#- The grain of a base_* model: one row per raw row. Every distinct raw row
    (as JSON text, macro raw_record over `raw_columns` of the source `raw`)
    appears in the model exactly as often as in the raw table, so no raw row
    is lost and none is multiplied by a join (the level or catalogue lookups).
    Identical raw rows are legitimate separate rows (the later ones are
    dropped as duplicates), so a plain `unique` on raw_record would be wrong. -#}
{% test one_row_per_raw_row(model, column_name, raw, raw_columns) %}
with

modelled as (
    select {{ column_name }} as raw_record, count(*) as n_rows
    from {{ model }}
    group by {{ column_name }}
),

raw_rows as (
    select {{ raw_record(raw_columns) }} as raw_record, count(*) as n_rows
    from {{ raw }}
    group by 1
)

select
    coalesce(modelled.raw_record, raw_rows.raw_record) as raw_record,
    modelled.n_rows as model_rows,
    raw_rows.n_rows as raw_rows
from modelled
full outer join raw_rows on modelled.raw_record = raw_rows.raw_record
where modelled.n_rows is distinct from raw_rows.n_rows
{% endtest %}
