"""Loaded with ``-p bench.podshim`` by the runner-image variant of A (A').

In the image pytest-incluster is installed from a wheel, so pytest marks the whole
``pytest_incluster`` package for assertion rewriting (it does that for every distribution with a
``pytest11`` entry point). The developer's editable install hides the package files from that
scan; registering the package here restores the image's behaviour. ``-p`` plugins are imported
before entry-point plugins, so this runs before ``pytest_incluster`` is imported.
"""

import pytest

pytest.register_assert_rewrite("pytest_incluster")
