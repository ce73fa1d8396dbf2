"""What operators see: ``/metrics`` (``views``), the database gauges read at each scrape
(``collector``), the Celery hooks that carry the request id into tasks and count them
(``task_signals``), and gunicorn's hooks for multiprocess metrics (``gunicorn``). The
product's counters themselves are ``core.metrics``; the log format is ``core.logs``."""
