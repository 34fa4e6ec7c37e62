"""Machine-readable results: the versioned JSON document of one run, merging many runs into a
fleet, and the difference between two runs.

Plain data and no pytest: the plugin writes a document (``--incluster-results``), the console
commands (``pytest-incluster report merge|diff``) read them back, anywhere.
"""
