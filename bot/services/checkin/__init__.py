"""The daily check-in and what hangs off it: the due scan, taps, reminders and closing, the
weekly instruments' clock, patient-level rules, side checks, dosing and treatment courses."""
