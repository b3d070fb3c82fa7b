"""Dagster definitions for waybill: the only package that imports dagster."""
