-- Every row the staging layer dropped, counted per source table and reason,
-- with a few raw rows as a sample. Kept rows + dropped rows = raw rows.
with

dropped as (
    {% for table in ['user_interests', 'user_assessment_scores', 'user_course_views', 'course_tags'] %}
        select
            '{{ table }}' as source_table,
            drop_reason,
            raw_record
        from {{ ref('base_' ~ table) }}
        where drop_reason is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

counted as (
    select
        source_table,
        drop_reason,
        count(*) as dropped_rows,
        list(raw_record order by raw_record)[1:{{ var('audit_sample_size') }}] as sample_raw_records
    from dropped
    group by source_table, drop_reason
)

select * from counted
order by source_table, drop_reason
