# API discovery: the runner reaches the API server and reads what every signed-in user may read
# (no RBAC rule of ours is needed). `k8s` is an httpx.Client whose base URL is the API server.


def test_core_api_is_served(k8s):
    body = k8s.get("/api").json()
    assert body["kind"] == "APIVersions"
    assert "v1" in body["versions"]


def test_api_groups_include_apps_and_rbac(k8s):
    groups = {group["name"] for group in k8s.get("/apis").json()["groups"]}
    assert {"apps", "batch", "rbac.authorization.k8s.io"} <= groups


def test_version(k8s):
    version = k8s.get("/version").json()
    assert version["major"] == "1"
    assert version["gitVersion"].startswith("v1.")
