{#-
    Plain schema names: a model configured with +schema: staging lands in `staging`, not
    `<target_schema>_staging`. Without a custom schema, the target's schema (main) is used.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
