{#-
    DESIGN.md section 5: an actual time is on time when it lies within
    [window start - early tolerance, window end + grace]; a window without a start has no early
    bound. One definition for pickups, deliveries and orders.

    Callers guard nulls themselves (actual and window end known); the expression is then true or
    false. Tolerances are in minutes (numbers or Jinja values from vars).
-#}
{% macro within_window(actual, window_start, window_end, early_minutes, grace_minutes) -%}
    ({{ actual }} <= {{ dbt.dateadd('minute', grace_minutes, window_end) }}
        and ({{ window_start }} is null
            or {{ actual }} >= {{ dbt.dateadd('minute', -early_minutes, window_start) }}))
{%- endmacro %}
