"""waybill: open analytics for logistics order management (CLI, settings, publish)."""
