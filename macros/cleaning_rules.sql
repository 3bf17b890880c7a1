{#- Cleaning rules shared by the base_* models, so each lives in one place. -#}

{#- The user-handle rules, as the first `when` branches of a drop-reason case:
    a blank raw handle is missing; one that is not a positive integer is invalid. -#}
{% macro user_handle_rules(raw_column='raw_user_handle', typed_column='user_handle') -%}
    when nullif(trim({{ raw_column }}), '') is null then 'missing_user_handle'
    when {{ typed_column }} is null or {{ typed_column }} <= 0 then 'invalid_user_handle'
{%- endmacro %}


{#- The row's drop reason: its first broken rule, else 'duplicate' when an
    earlier valid row has the same natural key (`key_columns`), where
    "earlier" is the order `keep_first_by`. -#}
{% macro drop_reason(key_columns, keep_first_by) -%}
    coalesce(
        invalid_reason,
        case
            when row_number() over (
                partition by invalid_reason is null, {{ key_columns | join(', ') }}
                order by {{ keep_first_by }}
            ) > 1 then 'duplicate'
        end
    )
{%- endmacro %}
