"""Read-side aggregates for the dashboard and reports, computed in SQL (pages only render them)."""
