"""Alerts: raising them from answers and scans, posting them to the care team's group within
its limits, acknowledge/resolve/re-raise, and the crisis cards shown to the patient."""
