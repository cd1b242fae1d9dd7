"""Background jobs on saq: the queue (Redis, or the app's PostgreSQL), the job functions and their
schedules, the worker (in the server or `helpline worker`), and the admin API over them."""
