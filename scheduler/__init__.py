"""APScheduler setup and the sweeps it runs (DESIGN §8): reminders, 督办, escalation, re-asks,
the weekly bulletin and the monthly ranking. The database says what is due; see `sweeps`."""
