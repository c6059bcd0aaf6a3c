"""`make cluster` (``python -m director.entrypoint.cluster``): Redis, PostgreSQL, several server
processes and nginx on one machine, started and stopped together. See README "Deploying for a team"."""
