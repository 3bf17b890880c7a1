-- Per signal: the TruncatedSVD fit behind the user vectors (components kept,
-- variance reached, matrix shape), for analysts to check a run.
with

vectors as (
    {% for signal in ['interests', 'assessments', 'course_views'] %}
        select
            signal,
            n_components,
            variance_explained,
            n_users,
            n_features,
            solver
        from {{ ref('user_vectors_' ~ signal) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

summarised as (
    select
        signal,
        any_value(n_components) as n_components,
        any_value(variance_explained) as variance_explained,
        any_value(n_users) as n_users,
        any_value(n_features) as n_features,
        any_value(solver) as solver,
        {{ var('variance_target') }} as variance_target
    from vectors
    group by signal
)

select * from summarised
order by signal
