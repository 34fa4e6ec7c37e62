"""Reporting: redaction first, then the run summary, the HTML parts and storing the report.

* :mod:`~pytest_incluster.report.redact` -- the one redactor all output passes through;
  :mod:`~pytest_incluster.report.scrub` plugs it into reports, logging, warnings, the terminal.
* :mod:`~pytest_incluster.report.htmlparts` -- the pytest-html environment, per-test API calls
  and the access summary, as HTML.
* :mod:`~pytest_incluster.report.summary` -- the one-line result for ``/dev/termination-log``.
* :mod:`~pytest_incluster.report.upload` -- the report stored in ConfigMaps.
* :mod:`~pytest_incluster.report.interrupt` -- SIGTERM ends the run like Ctrl-C.
* :mod:`~pytest_incluster.report.privilege` -- warnings about an over-privileged runner.

The pytest hooks that use these live in :mod:`pytest_incluster.pytest_plugin.report_hooks` and
:mod:`pytest_incluster.pytest_plugin.html_report`.
"""
