{#- How much a user-feature pair counts, in two factors that live here only:

    value = strength * idf

    strength: the evidence of one user for one feature (1 for a followed tag or
    an assessment taken; the engagement of the views behind a course feature).
    idf: how informative the feature is among the users of its signal,
    ln((1 + n_users) / (1 + users_with_feature)). A feature nearly every user
    has gets ~0 (it says nothing about who is alike); a rare one gets most.
    var feature_weighting = 'none' sets idf to 1 (the original system). -#}
{% macro idf_weighted(relation) -%}
    {%- set scheme = var('feature_weighting') -%}
    {%- if scheme not in ('idf', 'none') -%}
        {{ exceptions.raise_compiler_error("var feature_weighting must be 'idf' or 'none', got '" ~ scheme ~ "'") }}
    {%- endif %}
    with

    strengths as (
        select * from {{ relation }}
    ),

    signal_users as (
        select count(distinct user_handle)::double as n_users from strengths
    ),

    feature_users as (
        select
            feature,
            count(distinct user_handle)::double as n_feature_users
        from strengths
        group by feature
    ),

    weighted as (
        select
            strengths.user_handle,
            strengths.feature,
            strengths.strength,
            {%- if scheme == 'idf' %}
            ln((1 + signal_users.n_users) / (1 + feature_users.n_feature_users)) as idf
            {%- else %}
            1.0::double as idf
            {%- endif %}
        from strengths
        inner join feature_users on strengths.feature = feature_users.feature
        cross join signal_users
    )

    select
        user_handle,
        feature,
        strength,
        idf,
        strength * idf as value
    from weighted
{%- endmacro %}


{#- Engagement of one user with one course, from its summed view time and
    view-time bin (var engagement): 'log' = ln(1 + minutes watched), so a
    3-hour view counts ~5x a 1-minute one, not 180x; 'bins' = the bin number
    (very low 1 .. high 4); 'none' = 1 per course (the original system). -#}
{% macro engagement_strength(seconds, bin_number) -%}
    {%- set scheme = var('engagement') -%}
    {%- if scheme == 'log' -%}
        ln(1 + {{ seconds }} / 60.0)
    {%- elif scheme == 'bins' -%}
        {{ bin_number }}::double
    {%- elif scheme == 'none' -%}
        1.0::double
    {%- else -%}
        {{ exceptions.raise_compiler_error("var engagement must be 'log', 'bins' or 'none', got '" ~ scheme ~ "'") }}
    {%- endif -%}
{%- endmacro %}
