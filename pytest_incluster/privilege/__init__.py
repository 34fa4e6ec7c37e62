"""Least privilege: what a subject may do beyond what is listed, and who may do a thing.

``rules_review`` asks the server for a subject's rules (SelfSubjectRulesReview), ``expand``
turns them into one :class:`~.permission.Permission` per served resource and verb, ``sweep``
asks SelfSubjectAccessReviews concurrently where the rules are incomplete, ``inventory`` puts
those together for one namespace or the cluster scope, ``snapshot_document`` renders an access
document, ``exhaustive`` compares an inventory with a document, ``who_can`` lists the bound
subjects the server allows. No pytest here: the pytest items live in ``pytest_plugin``.
"""
