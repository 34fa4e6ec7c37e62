"""Which stage refused a request, read from the server's answer.

The API server answers every refusal with a ``Status`` (code, reason, message); the stage and
who decided are only in the message's wording, so this module is the one place that knows those
wordings. They are matched loosely (a search, not a full match; quotes of either kind) so that
kube-apiserver 1.35 to 1.37 and small rewordings still classify:

- authorization: 403, ``User "<user>" cannot <verb> ...`` (RBAC, Node, webhook authorizers);
- webhook: ``admission webhook "<name>" denied the request``, any code (400 if the webhook set
  none); ``admission webhook "<name>" does not support dry run`` (400) when its ``sideEffects``
  is ``Unknown``/``Some``;
- ValidatingAdmissionPolicy: ``ValidatingAdmissionPolicy '<policy>' [with binding '<binding>']
  denied request``, the code of the validation's ``reason`` (422 Invalid by default);
- Pod Security: 403, ``violates PodSecurity "<level>:<version>"``;
- ResourceQuota: 403, ``exceeded quota: <name>`` or ``failed quota: <name>``;
- validation: any other 422 (Invalid: the API's own validation) or 400 (BadRequest: a body the
  API cannot decode, strict field validation);
- any other 403 after authorization: an admission plugin the message does not name.
"""

from __future__ import annotations

import re

from pytest_incluster.admission.decision import Refusal

_AUTHORIZATION = re.compile(r'(?:^|: )User "[^"]*" cannot \S+ ')
_WEBHOOK_DENIED = re.compile(r'admission webhook "(?P<name>[^"]+)" denied the request')
_WEBHOOK_NO_DRY_RUN = re.compile(r'admission webhook "(?P<name>[^"]+)" does not support dry run')
_POLICY = re.compile(
    r"ValidatingAdmissionPolicy ['\"](?P<policy>[^'\"]+)['\"]"
    r"(?: with binding ['\"](?P<binding>[^'\"]+)['\"])? denied request"
)
_POD_SECURITY = re.compile(r'violates PodSecurity "(?P<level>[^":]+)(?::[^"]*)?"')
_QUOTA = re.compile(r"(?:exceeded|failed) quota: (?P<name>[^:,\s]+)")
_TERMINATING = re.compile(r"because it is being terminated")

WEBHOOK = "ValidatingAdmissionWebhook"
POLICY = "ValidatingAdmissionPolicy"
POD_SECURITY = "PodSecurity"
QUOTA = "ResourceQuota"


def dry_run_fix(webhook: str) -> str:
    """What to do when a webhook refuses every dry run."""
    return (
        f"the webhook {webhook!r} does not declare sideEffects None or NoneOnDryRun, so the API "
        "server refuses every dry run it would see before asking it: this is no verdict on the "
        "object. Fix: set sideEffects: None (or NoneOnDryRun, if it skips its side effects when "
        "AdmissionReview.request.dryRun is true) on that webhook in its "
        "ValidatingWebhookConfiguration/MutatingWebhookConfiguration"
    )


def refusal(status: int, message: str) -> Refusal | None:
    """The refusal in a 4xx answer, or None when the answer is no admission decision at all
    (401, 404 such as a missing namespace, 409 already exists, 429, 5xx)."""
    named = _named_refusal(message)
    if named is not None:
        return named
    if status == 403:
        if _AUTHORIZATION.search(message):
            return Refusal("authorization", "authorization")
        if _TERMINATING.search(message):
            return Refusal("admission", "NamespaceLifecycle", ("NamespaceLifecycle",))
        return Refusal("admission")
    if status in (400, 422):
        return Refusal("validation", "validation", ("validation",))
    return None


def _named_refusal(message: str) -> Refusal | None:
    """A refusal whose message names the webhook, policy, Pod Security or quota."""
    if m := _WEBHOOK_NO_DRY_RUN.search(message):
        name = m["name"]
        return Refusal(
            "admission", name, (name, WEBHOOK), dry_run_unsupported=True, note=dry_run_fix(name)
        )
    if m := _WEBHOOK_DENIED.search(message):
        return Refusal("admission", m["name"], (m["name"], WEBHOOK))
    if m := _POLICY.search(message):
        policy, binding = m["policy"], m["binding"] or ""
        by = f"{POLICY} {policy}" + (f" (binding {binding})" if binding else "")
        return Refusal("admission", by, tuple(n for n in (POLICY, policy, binding) if n))
    if m := _POD_SECURITY.search(message):
        return Refusal("admission", POD_SECURITY, (POD_SECURITY, f"{POD_SECURITY}:{m['level']}"))
    if m := _QUOTA.search(message):
        return Refusal("quota", f"{QUOTA} {m['name']}", (QUOTA, m["name"]))
    return None
