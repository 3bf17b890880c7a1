{#- The raw values of a row as one JSON text, kept by base models so the
    audit can show a sample of what was dropped. -#}
{% macro raw_record(columns) -%}
    to_json({ {%- for c in columns %}'{{ c }}': {{ c }}{% if not loop.last %}, {% endif %}{% endfor -%} })::varchar
{%- endmacro %}
