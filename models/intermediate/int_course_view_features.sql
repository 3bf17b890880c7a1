-- Course-view signal in long form. Per (user, course) an engagement strength
-- from the view time (macro engagement_strength); features: the course itself
-- (var course_identity), its tags, (tag, view-time bin) pairs and its level.
-- strength = summed engagement of the user's courses carrying the feature,
-- then weighted by rarity among viewers (macro idf_weighted).
with

views as (
    select * from {{ ref('int_course_views_binned') }}
),

tags as (
    select * from {{ ref('stg_course_tags') }}
),

engaged as (
    select
        user_handle,
        course_id,
        level,
        view_time_bin,
        {{ engagement_strength('view_time_seconds', 'view_time_bin_number') }} as engagement
    from views
),

tagged as (
    select
        engaged.user_handle,
        tags.course_tag,
        engaged.view_time_bin,
        engaged.engagement
    from engaged
    inner join tags on engaged.course_id = tags.course_id
),

courses as (
    -- the course itself (var course_identity): users who watched the same courses
    select
        user_handle,
        'course:' || course_id as feature,
        engagement
    from engaged
    where {{ 'true' if var('course_identity') else 'false' }}
),

features as (
    select * from courses
    union all
    select
        user_handle,
        'course_tag:' || course_tag as feature,
        engagement
    from tagged
    union all
    select
        user_handle,
        'course_tag:' || course_tag || ':' || view_time_bin as feature,
        engagement
    from tagged
    union all
    select
        user_handle,
        'level:' || level as feature,
        engagement
    from engaged
),

strengths as (
    select
        user_handle,
        feature,
        sum(engagement) as strength
    from features
    group by user_handle, feature
),

weighted as (
    {{ idf_weighted('strengths') }}
)

select * from weighted
