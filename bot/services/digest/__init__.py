"""What the care team reads in bulk: the weekly digest (text, chart, files), outcomes and the
FHIR export."""
