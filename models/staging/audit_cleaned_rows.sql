-- Every kept row that a cleaning rule changed (a trimmed handle, a
-- normalised tag...), counted per source table and rule, with a few raw rows
-- as a sample. A row changed by two rules counts once under each.
with

cleaned as (
    {% for table in ['user_interests', 'user_assessment_scores', 'user_course_views', 'course_tags'] %}
        select
            '{{ table }}' as source_table,
            unnest(cleaned_rules) as clean_rule,
            raw_record
        from {{ ref('base_' ~ table) }}
        where drop_reason is null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

counted as (
    select
        source_table,
        clean_rule,
        count(*) as cleaned_rows,
        list(raw_record order by raw_record)[1:{{ var('audit_sample_size') }}] as sample_raw_records
    from cleaned
    group by source_table, clean_rule
)

select * from counted
order by source_table, clean_rule
