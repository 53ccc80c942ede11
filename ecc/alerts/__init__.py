"""Breakpoint alerts (docs/alerts.md): rules, detection, lifecycle, API; notifications in `notify*`."""
