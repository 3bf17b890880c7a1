{#- One rule for every tag column: trimmed, lower-cased, inner whitespace
    collapsed to '-', and empty strings as null so they count as missing. -#}
{% macro normalize_tag(column) -%}
    nullif(regexp_replace(lower({{ strip(column) }}), '\s+', '-', 'g'), '')
{%- endmacro %}
