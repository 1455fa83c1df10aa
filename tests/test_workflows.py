"""The GitHub workflows: actionlint-clean, and the promises they make (OIDC only, policy pack with
each stack's config, prod behind an environment) hold."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
AWS_CREDENTIALS = "aws-actions/configure-aws-credentials"
PULUMI = "pulumi/actions"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(doc: dict) -> dict:
    return doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as true


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job.get("steps", []) if s.get("uses", "").split("@")[0] == action]


def all_jobs():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        for name, job in doc["jobs"].items():
            yield path.name, doc, name, job


def actionlint() -> str:
    found = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail("actionlint is not installed: pip install -r requirements.txt")
    return found


def test_stacks_exist():
    assert STACKS == ["dev", "prod"]


def test_actionlint_passes():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert files
    done = subprocess.run([actionlint(), "-no-color", *files], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, f"actionlint found problems:\n{done.stdout}{done.stderr}"


def test_actionlint_would_catch_a_broken_workflow(tmp_path):
    """The lint above can fail: a job needing a missing job is reported."""
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    needs: nope\n    runs-on: ubuntu-24.04\n    steps:\n      - run: true\n")
    done = subprocess.run([actionlint(), "-no-color", str(broken)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "needs job \"nope\"" in done.stdout


def test_no_long_lived_aws_keys_anywhere():
    for path in (ROOT / ".github").rglob("*"):
        if path.is_file():
            text = path.read_text()
            for needle in ("aws-access-key-id", "aws-secret-access-key", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                           "PULUMI_ACCESS_TOKEN"):
                assert needle not in text, f"{path.relative_to(ROOT)} mentions {needle}"


def test_cloud_jobs_use_oidc():
    cloud_jobs = 0
    for wf, doc, name, job in all_jobs():
        if not steps_using(job, AWS_CREDENTIALS) and not steps_using(job, PULUMI):
            continue
        cloud_jobs += 1
        perms = {**(doc.get("permissions") or {}), **(job.get("permissions") or {})}
        assert perms.get("id-token") == "write", f"{wf}: job {name} needs permissions id-token: write"
        creds = steps_using(job, AWS_CREDENTIALS)
        assert len(creds) == 1 and creds[0]["with"]["role-to-assume"].startswith("${{ vars"), f"{wf}: {name}"
        assert steps_using(job, "pulumi/auth-actions"), f"{wf}: job {name} gets no Pulumi token over OIDC"
    assert cloud_jobs == 4  # preview (matrix), up dev, up prod, the session image push


def test_workflow_default_permissions_are_read_only():
    for path in WORKFLOWS.glob("*.yml"):
        assert yaml.safe_load(path.read_text())["permissions"] == {"contents": "read"}, path.name


def test_actions_are_pinned_to_a_release():
    for wf, _, name, job in all_jobs():
        ref = job.get("uses")
        for step in job.get("steps", []):
            uses = step.get("uses", "")
            if uses:
                assert "@" in uses and uses.split("@")[1] not in ("main", "master", "latest"), f"{wf}: {name}: {uses}"
        if ref:
            assert ref.startswith("./.github/workflows/"), f"{wf}: {name} calls an outside workflow {ref}"


def test_pull_requests_run_offline_checks_and_a_policy_preview_per_stack():
    pr = load("pr.yml")
    assert "pull_request" in triggers(pr)
    assert pr["jobs"]["offline"]["uses"] == "./.github/workflows/offline-checks.yml"
    preview = pr["jobs"]["preview"]
    assert preview["needs"] == "offline"
    assert sorted(i["stack"] for i in preview["strategy"]["matrix"]["include"]) == STACKS
    (step,) = steps_using(preview, PULUMI)
    assert step["with"]["command"] == "preview"
    assert step["with"]["policyPacks"] == "policies"
    assert step["with"]["policyPackConfigs"] == "policies/config/${{ matrix.stack }}.json"
    assert step["with"]["stack-name"].endswith("/aiplatform/${{ matrix.stack }}")
    for stack in STACKS:
        assert (ROOT / "policies" / "config" / f"{stack}.json").is_file()
    assert pr["concurrency"]["cancel-in-progress"] is True


def test_offline_checks_cover_every_stack_without_credentials():
    job = load("offline-checks.yml")["jobs"]["offline"]
    assert "permissions" not in job and not steps_using(job, AWS_CREDENTIALS) and not steps_using(job, PULUMI)
    script = "\n".join(s.get("run", "") for s in job["steps"])
    assert "bash .ci/run" in script
    assert f"for stack in {' '.join(STACKS)}; do" in script
    assert "-m tools.preview --stack \"$stack\" --export" in script
    assert "-m policies.check \"out/$stack.json\" --stack \"$stack\"" in script
    assert "-m app.deploy --from-export out/dev.json" in script


def test_main_deploys_dev_then_prod_behind_an_environment():
    deploy = load("deploy.yml")
    assert triggers(deploy)["push"]["branches"] == ["main"]
    assert deploy["concurrency"]["cancel-in-progress"] is False  # never stop an update halfway
    jobs = deploy["jobs"]
    assert jobs["dev"]["needs"] == "offline" and jobs["prod"]["needs"] == "dev"
    assert jobs["prod"]["environment"] == "prod" and jobs["dev"]["environment"] == "dev"
    for stack in STACKS:
        (step,) = steps_using(jobs[stack], PULUMI)
        assert step["with"]["command"] == "up"
        assert step["with"]["stack-name"].endswith(f"/aiplatform/{stack}")
        assert step["with"]["policyPacks"] == "policies"
        assert step["with"]["policyPackConfigs"] == f"policies/config/{stack}.json"


def test_vendored_schemas_match_their_pins():
    """Every vendored published schema is listed with its source and is byte-for-byte what was pinned."""
    from tests import published_schemas

    rows = [line.split("\t") for line in (ROOT / ".github" / "published-schemas.tsv").read_text().splitlines()
            if line and not line.startswith("#")]
    listed = {path for path, _, _ in rows}
    vendored = {str(p.relative_to(ROOT)) for p in published_schemas.DIR.glob("*.json")}
    assert vendored and vendored <= listed, f"not pinned in published-schemas.tsv: {sorted(vendored - listed)}"
    for path, digest, url in rows:
        assert hashlib.sha256((ROOT / path).read_bytes()).hexdigest() == digest, f"{path} changed: update the pin"
        assert url.startswith("https://github.com/"), url
        notes = ROOT / Path(path).parent / "README.md"  # source, version and licence, beside the file
        assert notes.is_file() and Path(path).name in notes.read_text(), f"{path}: no source note beside it"


def test_scheduled_deploys_come_often_enough_to_keep_an_api_key_valid():
    """An enabled API key's expiry moves forward only on `pulumi up` (components/api.py): it is always
    more than N - N//2 days ahead, so the deploy schedule must come at least that often."""
    from components import config as platform_config
    from tools import program

    (entry,) = triggers(load("deploy.yml"))["schedule"]
    minute, hour, day_of_month, month, day_of_week = entry["cron"].split()
    assert (day_of_month, month) == ("*", "*") and day_of_week.isdigit()  # once a week, every week
    interval_days = 7
    for stack in STACKS:
        raw, secrets = program.stack_config(stack)
        key = platform_config.parse(raw, stack, secrets).api.api_key
        if key is not None and key.enabled:
            guaranteed = key.expires_in_days - key.expires_in_days // 2
            assert guaranteed > interval_days, f"{stack}: a key valid {guaranteed} days outlives no weekly deploy"


def test_the_suite_runs_on_the_oldest_and_the_newest_supported_python():
    job = load("offline-checks.yml")["jobs"]["offline"]
    assert job["strategy"]["matrix"]["python"] == ["3.11", "3.13"]
    (setup,) = steps_using(job, "actions/setup-python")
    assert setup["with"]["python-version"] == "${{ matrix.python }}"
    assert "requirements-dev.txt" in setup["with"]["cache-dependency-path"]


def test_requirements_are_proven_installable_on_every_target_platform():
    script = "\n".join(s.get("run", "") for s in load("offline-checks.yml")["jobs"]["offline"]["steps"])
    assert ".venv/bin/python -m tools.check_wheels" in script


def test_the_pulumi_cli_matches_the_sdk_pin_and_its_plugins_are_cached():
    sdk = next(line.split("==")[1] for line in (ROOT / "requirements.txt").read_text().splitlines()
               if line.startswith("pulumi=="))
    jobs = 0
    for wf, _, name, job in all_jobs():
        steps = job.get("steps", [])
        for i, step in enumerate(steps):
            if step.get("uses", "").split("@")[0] != PULUMI:
                continue
            jobs += 1
            assert str(step["with"].get("pulumi-version")) == sdk, f"{wf}: {name}: pin the CLI to {sdk}"
            caches = [s for s in steps[:i] if s.get("uses", "").startswith("actions/cache@")
                      and s["with"]["path"] == "~/.pulumi/plugins"]
            assert caches and "requirements.txt" in caches[0]["with"]["key"], f"{wf}: {name}: cache ~/.pulumi/plugins"
    assert jobs == 3
