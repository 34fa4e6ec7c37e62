"""The ``pytest-incluster`` console script: one module per command group, calling ``local/``.

:mod:`.main` parses the command line; :mod:`.assets_command` and :mod:`.cluster_command` do the
work; :mod:`.console` holds what they share.
"""
