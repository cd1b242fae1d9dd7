"""Support analytics: roll-ups refreshed by a job, the dashboards' API, CSV exports, drill-downs."""
