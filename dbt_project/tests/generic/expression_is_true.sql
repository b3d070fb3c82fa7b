{#-
    A model-level invariant: fails for every row where `expression` is not true.
    (The dbt_utils test of the same name, which cannot be installed here.)

        data_tests:
          - expression_is_true:
              arguments:
                expression: "(event_at is null) = (event_utc_offset_minutes is null)"
-#}
{% test expression_is_true(model, expression) %}
    select *
    from {{ model }}
    where not coalesce({{ expression }}, false)
{% endtest %}
