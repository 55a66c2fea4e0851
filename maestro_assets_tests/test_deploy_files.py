"""deploy/ without Docker or a cluster: the image's PostgreSQL client matches compose's server, the
Dockerfile's shell steps parse, and README.md's "Production" section names every file under
deploy/ and every compose service."""

from __future__ import annotations

import re
import subprocess

import yaml

from maestro_assets.platform_topology import COMPOSE_FILE, DEPLOY

ROOT = DEPLOY.parent
DOCKERFILE = DEPLOY / "Dockerfile"
# folders whose files the README may name by the folder: the dashboard and the chart's templates
NAMED_BY_FOLDER = ("grafana", "helm/maestro-platform/templates")


def run_steps() -> list[str]:
    """The shell script of every RUN instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [line.strip()[len("RUN ") :] for line in text.splitlines() if line.strip().startswith("RUN ")]


def production_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n## Production\n")
    return readme[start : readme.index("\n## ", start + 1)]


def test_the_image_installs_the_postgresql_client_of_the_compose_server():
    """pg_dump must not be older than the server it dumps (the backup job): one major version for both."""
    (server,) = [
        s["image"]
        for s in yaml.safe_load(COMPOSE_FILE.read_text())["services"].values()
        if s.get("image", "").startswith("postgres:")
    ]
    server_major = re.fullmatch(r"postgres:(\d+)(?:[.-].*)?", server).group(1)
    (step,) = [step for step in run_steps() if "postgresql-client-" in step]
    assert re.findall(r"postgresql-client-(\d+)", step) == [server_major]
    # from the PostgreSQL project's repository, trusted through its key only, in the apt layer
    source = re.search(r'echo "deb \[signed-by=(?P<key>\S+)\]"\s+"(?P<url>\S+) ', step)
    assert source and source["url"] == "https://apt.postgresql.org/pub/repos/apt"
    assert f"-o {source['key']}" in step  # the key file signed-by names is the one downloaded
    assert (
        step.index("> /etc/apt/sources.list.d/pgdg.list")
        < step.rindex("apt-get update")
        < step.index("postgresql-client-")
    )
    assert step.rstrip().endswith("rm -rf /var/lib/apt/lists/*")


def test_every_run_step_of_the_dockerfile_is_valid_shell():
    steps = run_steps()
    assert len(steps) >= 3
    for step in steps:
        checked = subprocess.run(["sh", "-n", "-c", step], capture_output=True, text=True)
        assert checked.returncode == 0, f"{step}\n{checked.stderr}"


def test_the_readme_production_section_names_every_deploy_file_and_service():
    section = production_section()
    files = sorted(path.relative_to(DEPLOY).as_posix() for path in DEPLOY.rglob("*") if path.is_file())
    assert "Dockerfile" in files and "helm/maestro-platform/Chart.yaml" in files
    unnamed = [
        name
        for name in files
        if f"deploy/{name}" not in section
        and not any(name.startswith(f"{folder}/") and f"deploy/{folder}" in section for folder in NAMED_BY_FOLDER)
    ]
    assert unnamed == [], f"files under deploy/ the README's Production section does not name: {unnamed}"
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    assert [name for name in services if f"`{name}`" not in section] == []
