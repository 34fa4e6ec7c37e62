"""Kubernetes name rules checked before any server is asked.

A namespace name is an RFC 1123 DNS label (apimachinery's ``IsDNS1123Label``): at most 63
lower-case letters, digits and '-', starting and ending with a letter or digit. One definition
serves the options, the access files and their entries, so all three agree on what is valid.
"""

from __future__ import annotations

import re

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

NAMESPACE_RULE = (
    "a namespace name is an RFC 1123 DNS label: at most 63 lower-case letters, digits and '-', "
    "starting and ending with a letter or digit"
)


def is_namespace_name(value: str) -> bool:
    """Whether ``value`` can name a namespace."""
    return DNS_LABEL.fullmatch(value) is not None
