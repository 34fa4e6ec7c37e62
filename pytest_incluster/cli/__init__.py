"""The ``pytest-incluster`` console script: one module per command group, calling the domain.

:mod:`.main` parses the command line; :mod:`.assets_command` and :mod:`.cluster_command` drive
``local/``, :mod:`.fetch_command` reads a stored report through ``config/``, ``client/`` and
``report/``; :mod:`.console` holds what they share.
"""
