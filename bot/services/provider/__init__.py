"""The care team's side: its commands and views, the group channel's health, cohorts, roles,
messages to patients and the audit trail."""
