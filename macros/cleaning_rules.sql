{#- Cleaning rules shared by the base_* models, so each lives in one place. -#}

{#- The user-handle rules, as the first `when` branches of a drop-reason case:
    a blank raw handle is missing; one that is not a positive integer is invalid. -#}
{% macro user_handle_rules(raw_column='raw_user_handle', typed_column='user_handle') -%}
    when nullif({{ strip(raw_column) }}, '') is null then 'missing_user_handle'
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


{#- A user or author handle: digits only after trimming (so '1e3', '1.5',
    '+7' or '0x10' are invalid, not cast to some other user), at most 19
    digits, as BIGINT; null when the text is anything else. -#}
{% macro parse_handle(column) -%}
    try_cast(regexp_extract({{ column }}, '^\s*([0-9]{1,19})\s*$', 1) as bigint)
{%- endmacro %}


{#- The cleaning rules that changed a row's raw text, as a list for the
    audit: `rules` is a list of (rule name, raw column, cleaned value); a rule
    applies when the cleaned value, as text, differs from the raw text. -#}
{% macro cleaned_rules(rules) -%}
    list_filter([
        {%- for name, raw, cleaned in rules %}
        case when {{ raw }} is distinct from ({{ cleaned }})::varchar then '{{ name }}' end
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    ], lambda rule: rule is not null)
{%- endmacro %}


{#- A course id: trimmed and lower-cased, empty as null; the same rule in
    course_tags and user_course_views, so their ids join. -#}
{% macro normalize_course_id(column) -%}
    nullif(lower({{ strip(column) }}), '')
{%- endmacro %}


{#- Leading and trailing whitespace of any kind removed (SQL trim() only
    removes spaces; exports also leave tabs and line breaks). -#}
{% macro strip(column) -%}
    regexp_replace({{ column }}, '^\s+|\s+$', '', 'g')
{%- endmacro %}
