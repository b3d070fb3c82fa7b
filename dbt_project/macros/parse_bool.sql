{#-
    Contract type `bool`: the loader accepts true/false, t/f, 1/0, y/n, yes/no in any case.
    Anything else (or blank) is null.
-#}
{% macro parse_bool(column) -%}
    case
        when lower(trim({{ column }})) in ('true', 't', '1', 'y', 'yes') then true
        when lower(trim({{ column }})) in ('false', 'f', '0', 'n', 'no') then false
    end
{%- endmacro %}
