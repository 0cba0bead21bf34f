


def test_org_user_and_tokens_from_the_command_line(cli, client):
    assert cli("org", "create", "Vendor Co").exit_code == 0
    assert cli("org", "create", "Vendor Co").exit_code == 1
    created = cli("user", "create", "Boss@Example.test", "--password", "long enough pw", "--role", "manager",
                  "--org", "Vendor Co")
    assert created.exit_code == 0, created.output
    personal = cli("token", "create", "--user", "boss@example.test")
    secret = personal.output.strip().splitlines()[-1].split()[-1]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).json
    assert me["email"] == "boss@example.test" and "projects:write" in me["scopes"]
    org_key = cli("token", "create", "--org", "Vendor Co", "--scopes", "projects:read,tasks:work")
    secret = org_key.output.strip().splitlines()[-1].split()[-1]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).json
    assert me["role"] == "organization" and me["scopes"] == ["projects:read", "tasks:work"]
    assert cli("token", "create", "--org", "Vendor Co").exit_code == 1  # org keys must name scopes
    assert cli("user", "create", "x@y.z", "--password", "short", "--role", "annotator").exit_code == 1


def test_demo_loads_once_and_its_logins_work(cli, client):
    first = cli("demo")
    assert first.exit_code == 0, first.output
    assert "manager@concord.test" in first.output
    assert cli("demo").exit_code == 0
    login = client.post("/api/v1/auth/login", json={"email": "manager@concord.test", "password": "concord-manager"})
    assert login.status_code == 200
    projects = client.get("/api/v1/projects").json["items"]
    assert [p["name"] for p in projects] == ["Movie review sentiment", "News entities", "Assistant replies"]
    batches = client.get(f"/api/v1/projects/{projects[0]['id']}/batches").json["items"]
    assert sum(b["task_count"] for b in batches) == 24
    # The LLM-feedback project comes answered and merged: its leaderboard ranks the models by their replies.
    feedback = projects[2]["id"]
    board = client.get(f"/api/v1/projects/{feedback}/questions/preference/leaderboard").json
    assert [row["item"] for row in board["items"]] == ["lumen-large", "lumen-small", "echo-1"]
    assert board["comparisons"] == 54 and sum(row["ties"] for row in board["items"]) > 0
    agreement = client.get(f"/api/v1/projects/{feedback}/agreement").json["questions"]
    assert set(agreement) == {"preference", "helpful", "harmless", "honest", "reason"}
    assert 0 < agreement["preference"]["project"]["alpha"]["value"] < 1
    result = client.get(f"/api/v1/projects/{feedback}/results").json["items"][0]
    assert set(result["consensus"]["answer"]) >= {"preference", "helpful", "harmless", "honest"}


def test_worker_needs_redis(cli, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert cli("worker", "--burst").exit_code == 2
