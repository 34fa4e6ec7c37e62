"""Reporting: redaction first, then the run summary, pytest-html and storing the report.

* :mod:`~pytest_incluster.report.redact` -- the one redactor all output passes through;
  :mod:`~pytest_incluster.report.scrub` plugs it into reports, logging, warnings, the terminal.
* :mod:`~pytest_incluster.report.html` and :mod:`~pytest_incluster.report.htmlparts` -- the
  pytest-html environment, per-test API calls and the access summary.
* :mod:`~pytest_incluster.report.summary` -- the one-line result for ``/dev/termination-log``.
* :mod:`~pytest_incluster.report.upload` -- the report stored in ConfigMaps.
* :mod:`~pytest_incluster.report.interrupt` -- SIGTERM ends the run like Ctrl-C.
* :mod:`~pytest_incluster.report.privilege` -- warnings about an over-privileged runner.
* :mod:`~pytest_incluster.report.plugin` -- the hooks; ``register(config)`` is the entry point.
"""
