{#- Two CTEs that list what each ranked pair shares of one kind of item.

    `my_<name>` pairs every ranked (user, neighbour) with the user's items and
    is materialised first, so the planner never joins the two users' items on
    the item alone (a popular tag would multiply rows by its followers).
    `shared_<name>` then keeps the items the neighbour has too, with their
    count and at most `max_items` of them (ordered by `match_column`).

    items:       a CTE with user_handle, match_column and any extra columns
    list_item:   the expression listed per shared item (`mine.` / `theirs.` are the two users' rows) -#}
{% macro shared_items(name, items, match_column, list_item, max_items) -%}
my_{{ name }} as materialized (
    select
        ranking.user_handle,
        ranking.similar_user_handle,
        {{ items }}.* exclude (user_handle)
    from ranking
    inner join {{ items }} on ranking.user_handle = {{ items }}.user_handle
),

shared_{{ name }} as (
    select
        mine.user_handle,
        mine.similar_user_handle,
        count(*) as n_shared_{{ name }},
        list({{ list_item }} order by mine.{{ match_column }})[1:{{ max_items }}] as shared_{{ name }}
    from my_{{ name }} as mine
    inner join {{ items }} as theirs
        on
            mine.similar_user_handle = theirs.user_handle
            and mine.{{ match_column }} = theirs.{{ match_column }}
    group by mine.user_handle, mine.similar_user_handle
)
{%- endmacro %}
