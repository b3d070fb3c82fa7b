"""Great Expectations suites (issue: data quality on schedule). No dagster import here."""
