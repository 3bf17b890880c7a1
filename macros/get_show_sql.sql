{#
    `dbt show -s <model>` runs a model's compiled code as a query. For a Python
    model that code is Python, which DuckDB cannot parse ("zero-length delimited
    identifier"), so for Python models this override shows the table the last
    build materialised instead. SQL models keep dbt's behaviour (the compiled
    query, run now). Same signature as dbt's global `get_show_sql`, which a
    root-project macro of the same name replaces.
#}
{% macro get_show_sql(compiled_code, sql_header, limit) -%}
  {%- set query = compiled_code -%}
  {%- if model is defined and model is mapping and model.get('language') == 'python' -%}
    {%- set query = 'select * from ' ~ this -%}
  {%- endif -%}
  {%- if sql_header is not none -%}
  {{ sql_header }}
  {%- endif %}
  {{ get_limit_subquery_sql(query, limit) }}
{% endmacro %}
