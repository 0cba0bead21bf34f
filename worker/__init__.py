"""RQ worker entry and the job functions it runs."""
