"""The pytest integration: everything that knows about pytest lives here.

``pytest_incluster/plugin.py`` is the thin entry point; it calls
:func:`~pytest_incluster.pytest_plugin.session_hooks.configure`, which registers the parts:

* :mod:`.settings` -- command-line options and ini keys, with where each value came from.
* :mod:`.state` -- the session's typed state in ``config.stash``.
* :mod:`.cluster_access` -- the resolved configuration and the session client, made on first use.
* :mod:`.fixtures` -- the fixtures test authors type (``k8s``, ``k8s_namespace``, ...).
* :mod:`.session_hooks` -- call attribution, object cleanup, the header, shutdown.
* :mod:`.expectations` -- the ``expect_*`` and ``impersonate`` markers at run time;
  :mod:`.impersonate_marker` builds the marked test's impersonating client.
* :mod:`.header` -- the terminal header; :mod:`.local_mode` -- ``--incluster-local``.
* :mod:`.access_files` -- the ``*.access.yaml`` collector and its items.
* :mod:`.report_hooks` and :mod:`.html_report` -- the report's pytest and pytest-html hooks.
* :mod:`.xdist` -- the one ``is_xdist_worker`` check.
"""
