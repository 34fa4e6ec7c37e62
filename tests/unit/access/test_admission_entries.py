"""The admitted:/rejected: lists of access documents: what loads, and each mistake named with
its line and the fix, like every other problem of an access file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_incluster.access.matrix import MatrixError, load_matrix_text

POD = "{apiVersion: v1, kind: Pod, metadata: {name: web}}"


def test_inline_and_file_objects_become_kind_name_entries(tmp_path: Path) -> None:
    (tmp_path / "pods.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: other}\n"
    )
    text = (
        f"namespace: prod\nrejected:\n  - manifest: {POD}\n    by: PodSecurity\n"
        "    match: privileged\nadmitted:\n  - file: pods.yaml\n"
    )
    (doc,) = load_matrix_text(text, tmp_path / "x.access.yaml")
    assert [(e.expected, e.name, e.by, e.match, e.line) for e in doc.admission] == [
        ("admitted", "Pod/a", None, None, 7),
        ("admitted", "Pod/b", None, None, 7),
        ("rejected", "Pod/web", "PodSecurity", "privileged", 3),
    ]
    assert doc.admission[1].manifest["metadata"]["namespace"] == "other"


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        (
            "  - by: PodSecurity\n",
            "x.access.yaml:2: a 'rejected' item needs exactly one of "
            "'manifest:' or 'file:' (example: rejected: [{file: pods/privileged.yaml, by: "
            "PodSecurity}])",
        ),
        ("  - file: missing.yaml\n", "x.access.yaml:2: cannot read missing.yaml: not a file"),
        (
            "  - file: /etc/hostname\n",
            "x.access.yaml:2: 'file' must be a path relative to the access file",
        ),
        (
            f"  - manifest: {POD}\n    match: '('\n",
            "x.access.yaml:3: 'match' is not a valid "
            "regular expression: missing ), unterminated subpattern at position 0",
        ),
        (
            "  - manifest: {kind: Pod}\n",
            "x.access.yaml:2: an object needs 'apiVersion' and "
            "'kind' (example: rejected: [{file: pods/privileged.yaml, by: PodSecurity}])",
        ),
        (
            "  - manifest: !!python/object:os.system {}\n",
            "x.access.yaml:2: the manifest is not plain YAML data: *",
        ),
        (
            f"  - manifest: {POD}\n  - manifest: {POD}\n",
            "x.access.yaml:3: 'Pod/web' is listed twice (first on line 2); give each object its "
            "own name",
        ),
        (
            "  - manifest: {POD}\n    owner: me\n".replace("{POD}", POD),
            "x.access.yaml:3: unknown key 'owner' in a 'rejected' item; valid: manifest, file, by, "
            "match",
        ),
    ],
)
def test_each_mistake_names_its_line_and_the_fix(tmp_path: Path, items: str, problem: str) -> None:
    with pytest.raises(MatrixError) as caught:
        load_matrix_text("rejected:\n" + items, tmp_path / "x.access.yaml", display="x.access.yaml")
    first = str(caught.value).splitlines()[0]
    if problem.endswith("*"):  # the rest is PyYAML's wording
        assert first.startswith(problem[:-1]), first
    else:
        assert first == problem
