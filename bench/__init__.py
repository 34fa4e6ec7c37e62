"""The pytest-incluster benchmark (``bench/run``); not part of the package or the test suite."""
