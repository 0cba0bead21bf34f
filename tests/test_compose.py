"""docker-compose.yml without Docker: it is valid compose, and every directory one container writes and
another reads is a named volume that both mount, at the same path.

Each service's directories come from the environment the file gives it, read by ``Settings.from_env``
as inside its container (the code under the Dockerfile's WORKDIR, so config.py's defaults such as
``<root>/var/exports`` resolve there). The same path matters, not only the same volume: the database
stores absolute paths (an export's file, an upload's path in its job), and the reader opens that path.
"""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path, PurePosixPath

import pytest
import yaml

from backend import config

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

# What each `concord` command does with each directory of the settings (a Settings property or field
# ending in _dir); "write" includes deleting. A new directory setting must be added here (a test checks).
#   upload_dir: the API saves uploads (api/datasets.py) that a worker's import job reads, then deletes.
#   export_dir: a worker writes exports and deletes expired ones (worker/jobs.py); the API streams them.
#   var_dir: the SQLite database and the generated secret key, when the environment does not give them.
FILE_ACCESS = {
    "serve": {"upload_dir": "write", "export_dir": "read"},
    "worker": {"upload_dir": "write", "export_dir": "write", "export_image_dir": "read"},
    "cron": {},  # enqueues the periodic jobs; the workers run them
    "db": {},  # migrations touch the database only
}
TOP_LEVEL_KEYS = {"version", "name", "services", "volumes", "networks", "configs", "secrets", "include"}
_VARIABLE = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value: str, host: dict[str, str]) -> str:
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $VAR, $$."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        expression = match.group("braced") or match.group("bare")
        name, operator, fallback = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(:?[-?+]?)(.*)", expression).groups()
        current = host.get(name)
        if operator in (":-", "-"):
            return current if current or (operator == "-" and current is not None) else fallback
        if operator in (":+", "+"):
            return fallback if current or (operator == "+" and current is not None) else ""
        if operator in (":?", "?"):
            if not current:
                raise ValueError(f"${{{expression}}}: {name} is required by docker-compose.yml")
            return current
        return current or ""

    return _VARIABLE.sub(replace, value)


def environment(service: dict, host: dict[str, str]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, host.get(item, "")) for item in raw)
    return {key: interpolate("" if value is None else str(value), host) for key, value in raw.items()}


def dockerfile() -> tuple[PurePosixPath, list[str]]:
    """The Dockerfile's last WORKDIR and its CMD (exec form)."""
    workdir, cmd = PurePosixPath("/"), []
    for line in DOCKERFILE.read_text().splitlines():
        word, _, rest = line.strip().partition(" ")
        if word.upper() == "WORKDIR":
            workdir = workdir / rest.strip()
        elif word.upper() == "CMD":
            cmd = yaml.safe_load(rest)  # the exec form is a JSON array
    return workdir, cmd


def command(service: dict) -> list[str]:
    cmd = service.get("command")
    if cmd is None:
        return dockerfile()[1]
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def mounts(service: dict) -> list[dict]:
    """The service's volumes in long form: type, source, target, read_only."""
    out = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            out.append({"type": entry.get("type", "volume"), "source": entry.get("source"),
                        "target": entry["target"], "read_only": bool(entry.get("read_only"))})
            continue
        parts = entry.split(":")
        if len(parts) == 1:
            out.append({"type": "volume", "source": None, "target": parts[0], "read_only": False})
            continue
        source, target, *mode = parts
        bind = source.startswith((".", "/", "~"))
        out.append({"type": "bind" if bind else "volume", "source": source, "target": target,
                    "read_only": "ro" in (mode[0].split(",") if mode else [])})
    return out


def settings_in_container(env: dict[str, str], monkeypatch) -> config.Settings:
    """The settings a process in the image reads from ``env``: config.py's defaults resolve under WORKDIR."""
    with monkeypatch.context() as patch:
        patch.setattr(config, "PROJECT_ROOT", Path(str(dockerfile()[0])))
        patch.setattr(config, "_secret_key", lambda env, var_dir, production: env.get("SECRET_KEY") or "")
        patch.setattr(Path, "mkdir", lambda *args, **kwargs: None)  # nothing is created on this machine
        return config.Settings.from_env(env)


def directory_settings() -> set[str]:
    names = {name for name in dir(config.Settings) if name.endswith("_dir") and not name.startswith("_")}
    return names | {f for f in config.Settings.__dataclass_fields__ if f.endswith("_dir")}


def access_of(cmd: list[str], settings: config.Settings, env: dict[str, str]) -> dict[str, str]:
    if not cmd or PurePosixPath(cmd[0]).name != "concord" or len(cmd) < 2:
        return {}
    access = dict(FILE_ACCESS[cmd[1]])
    if cmd[1] in ("serve", "worker", "cron", "db") and (settings.is_sqlite or not env.get("SECRET_KEY")):
        access["var_dir"] = "write"  # every process opens the SQLite file, and reads the generated key
    return access


def shared_path_problems(compose: dict, monkeypatch, host: dict[str, str] | None = None) -> list[str]:
    """Why files written by one container would not be found by another; empty when they would."""
    host = host or {}
    declared = set(compose.get("volumes") or {})
    users: dict[str, list[tuple[str, str, PurePosixPath, int]]] = {}
    for name, service in compose["services"].items():
        if "build" not in service:
            continue  # third-party images (PostgreSQL, Redis) run none of Concord's code
        env = environment(service, host)
        settings = settings_in_container(env, monkeypatch)
        replicas = int((service.get("deploy") or {}).get("replicas", 1))
        for setting, mode in access_of(command(service), settings, env).items():
            path = PurePosixPath(str(getattr(settings, setting)))
            users.setdefault(setting, []).append((name, mode, path, replicas))
    problems = []
    for setting, uses in users.items():
        containers = sum(replicas for _name, _mode, _path, replicas in uses)
        if containers < 2 or all(mode == "read" for _name, mode, _path, _replicas in uses):
            continue
        paths = {path for _name, _mode, path, _replicas in uses}
        if len(paths) > 1:
            problems.append(f"{setting}: the services see different paths {sorted(map(str, paths))}; the "
                            "database stores one absolute path for all of them")
        sources = set()
        for name, mode, path, _replicas in uses:
            covering = [m for m in mounts(compose["services"][name])
                        if path == PurePosixPath(m["target"]) or PurePosixPath(m["target"]) in path.parents]
            if not covering:
                problems.append(f"{setting}: {name} keeps {path} in its own container; mount a named volume there")
                continue
            mount = max(covering, key=lambda m: len(PurePosixPath(m["target"]).parts))
            if mount["type"] != "volume" or not mount["source"]:
                problems.append(f"{setting}: {name} mounts {path} from a {mount['type']} without a name, not a "
                                "shared named volume")
                continue
            if mount["source"] not in declared:
                problems.append(f"{setting}: volume {mount['source']} of {name} is not declared under volumes:")
            if mode == "write" and mount["read_only"]:
                problems.append(f"{setting}: {name} writes {path} but mounts it read-only")
            sources.add(mount["source"])
        if len(sources) > 1:
            problems.append(f"{setting}: the services mount different volumes {sorted(sources)} at {path}")
    return problems


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_file_is_valid_compose(compose):
    unknown = {key for key in compose if not key.startswith("x-")} - TOP_LEVEL_KEYS
    assert not unknown, f"unknown top-level keys {unknown}"
    services = compose["services"]
    assert services and isinstance(services, dict)
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        assert "image" in service or "build" in service, f"{name} has neither image nor build"
        environment(service, {})  # every ${...} resolves with nothing set on the host
        for mount in mounts(service):
            if mount["type"] == "volume" and mount["source"]:
                assert mount["source"] in declared, f"{name} mounts {mount['source']}, not declared under volumes:"
            assert PurePosixPath(mount["target"]).is_absolute(), f"{name}: {mount['target']} is not absolute"
        depends = service.get("depends_on") or []
        for other in depends if isinstance(depends, list) else depends.keys():
            assert other in services, f"{name} depends on {other}, which is not a service"
        cmd = command(service)
        if "build" in service and cmd and PurePosixPath(cmd[0]).name == "concord":
            assert cmd[1] in FILE_ACCESS, f"{name} runs `concord {cmd[1]}`, which FILE_ACCESS does not describe"


def test_every_directory_setting_is_described():
    described = {setting for access in FILE_ACCESS.values() for setting in access} | {"var_dir"}
    assert directory_settings() <= described, directory_settings() - described


def test_files_written_by_one_container_are_found_by_the_others(compose, monkeypatch):
    assert shared_path_problems(compose, monkeypatch) == []
    # With the secret set on the host (as in production), the same holds.
    assert shared_path_problems(compose, monkeypatch, {"SECRET_KEY": "s" * 40, "CONCORD_ENV": "production"}) == []


def test_the_check_finds_an_export_directory_left_inside_the_worker(compose, monkeypatch):
    """Exports written where the API cannot see them: every download was a 410."""
    broken = copy.deepcopy(compose)
    for service in broken["services"].values():
        (service.get("environment") or {}).pop("CONCORD_EXPORT_DIR", None)
        if "volumes" in service:
            service["volumes"] = [v for v in service["volumes"] if "exports" not in str(v)]
    problems = shared_path_problems(broken, monkeypatch)
    assert problems and all(p.startswith("export_dir: ") for p in problems), problems
    assert any("/app/var/exports" in p for p in problems), problems  # config.py's default, under WORKDIR
    # A bind mount of a host directory, or different volumes, are caught too.
    other = copy.deepcopy(compose)
    other["volumes"]["exports2"] = None
    other["services"]["worker"]["volumes"] = ["uploads:/data/uploads", "exports2:/data/exports"]
    assert any("different volumes" in p for p in shared_path_problems(other, monkeypatch))
    bind = copy.deepcopy(compose)
    bind["services"]["api"]["volumes"] = ["uploads:/data/uploads", "./exports:/data/exports"]
    assert any("bind" in p for p in shared_path_problems(bind, monkeypatch))


def test_without_a_database_url_every_process_would_need_the_same_var_dir(compose, monkeypatch):
    embedded = copy.deepcopy(compose)
    for service in embedded["services"].values():
        (service.get("environment") or {}).pop("DATABASE_URL", None)
    assert any(p.startswith("var_dir: ") for p in shared_path_problems(embedded, monkeypatch))
