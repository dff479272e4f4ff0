"""The GitHub Action (action.yml) and examples/ci/lorainfra.yml: they parse, reference only what exists,
and the action's scripts do the plan -> artifact -> apply path (and refuse a stale artifact) against the
embedded emulator, run the way a runner runs them (tests/ecosystem/actionkit.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLES, ROOT, fast_copy
from tests.ecosystem.actionkit import ACTION, EXPR, Runner, load_action

WORKFLOW = EXAMPLES / "ci" / "lorainfra.yml"
HEAD_SHA = "a" * 40
MERGE_SHA = "b" * 40


def workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(WORKFLOW.read_text(), Loader=yaml.BaseLoader)  # `on:` stays a string key
    return data


# --- static checks -----------------------------------------------------------------------------------------

def refs(text: str) -> list[str]:
    found = []
    for expr in EXPR.findall(text):
        found += re.findall(r"\b(?:inputs|steps|matrix|github|runner|secrets|vars)\.[A-Za-z0-9_.-]+", expr)
    return found


def test_action_references_only_declared_inputs_and_earlier_steps() -> None:
    action = load_action()
    assert action["runs"]["using"] == "composite"
    assert {"folder", "environment", "command", "comment", "version"} <= set(action["inputs"])
    seen_steps: set[str] = set()
    for step in action["runs"]["steps"]:
        text = json.dumps(step)
        for ref in refs(text):
            kind, name, *_rest = ref.split(".")
            if kind == "inputs":
                assert name in action["inputs"], f"{step.get('name')}: unknown input {name}"
            if kind == "steps":
                assert name in seen_steps, f"{step.get('name')}: step {name} is not an earlier step"
        if "run" in step:
            assert step.get("shell") == "bash"
            assert "${{" not in step["run"], f"{step.get('name')}: expressions go in env:, never in a script"
        if step.get("id"):
            seen_steps.add(step["id"])
    for name, output in action["outputs"].items():
        for ref in refs(output["value"]):
            assert ref.split(".")[1] in seen_steps, f"output {name}: {ref}"


def test_workflow_uses_the_action_with_a_matrix_and_existing_inputs() -> None:
    action_inputs = load_action()["inputs"]
    jobs = workflow()["jobs"]
    commands = {}
    for job_name, job in jobs.items():
        assert job["strategy"]["matrix"]["environment"] == ["staging", "production"], job_name
        (step,) = [s for s in job["steps"] if s.get("uses", "").startswith("OWNER/lorainfra@")]
        assert re.fullmatch(r"OWNER/lorainfra@v\d+\.\d+\.\d+", step["uses"]), "pin a tag or commit"
        assert set(step["with"]) <= set(action_inputs), job_name
        assert step["with"]["environment"] == "${{ matrix.environment }}"
        commands[job_name] = step["with"]["command"]
    assert commands == {"plan": "plan", "apply": "apply", "drift": "drift"}
    assert jobs["apply"]["environment"] == "${{ matrix.environment }}"  # approval before the reviewed plan is applied
    assert "pull_request" in jobs["plan"]["if"] and "push" in jobs["apply"]["if"] and "schedule" in jobs["drift"]["if"]
    dispatch = workflow()["on"]["workflow_dispatch"]["inputs"]
    assert jobs["apply"]["steps"][-1]["with"]["plan-run-id"] == "${{ inputs.plan-run-id }}" and "plan-run-id" in dispatch


def test_never_installs_lorainfra_from_a_package_index() -> None:
    for path in (ACTION, WORKFLOW, ROOT / "README.md"):
        text = path.read_text()
        for m in re.finditer(r"pip install (?:-\S+ )*['\"]?lorainfra(\[[a-z,]*\])?( @ \S+)?", text):
            assert m.group(2), f"{path}: {m.group(0)} would ask a package index"  # `name @ URL`: a direct reference
    sources = re.findall(r'source="([^"]*)"', ACTION.read_text())
    assert sources == ["git+https://github.com/${ACTION_REPOSITORY}@${LORAINFRA_VERSION}", "file://${ACTION_PATH}"]


def test_readme_ci_section_matches_the_tested_workflow() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### GitHub Actions", 1)[1].split("\n## ", 1)[0]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert block == WORKFLOW.read_text(), "README's workflow block must be examples/ci/lorainfra.yml verbatim"


# --- the scripts, run against the embedded emulator --------------------------------------------------------

@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    kit = Runner(tmp_path)
    fast_copy(EXAMPLES / "quickstart", kit.workspace / "infra" / "staging")
    return kit


def plan_on_pr(kit: Runner, pr: int = 7) -> Any:
    return kit.run({"command": "plan", "folder": "infra/staging", "environment": "staging", "comment": True},
                   event="pull_request", sha=HEAD_SHA, pr=pr)


def merged(kit: Runner, plan_run: str) -> None:
    kit.set_github_state(pulls={MERGE_SHA: [{"number": 7, "head": {"sha": HEAD_SHA}}]},
                         runs=[{"id": int(plan_run), "name": "lorainfra", "head_sha": HEAD_SHA}])


def lorainfra(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "lorainfra"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.mark.timeout(900)
def test_plan_comment_artifact_then_apply_exactly_that_plan(runner: Runner) -> None:
    first = plan_on_pr(runner)
    assert first.code == 0, first.log
    assert first.outputs["plan"]["exitcode"] == "2"  # changes
    assert str(runner.temp / "lorainfra-venv" / "bin") in (runner.root / f"path-{runner.next_run_id}").read_text()
    plan_run = str(runner.next_run_id)
    assert sorted(p.name for p in (runner.artifacts / plan_run / "lorainfra-plan-staging").iterdir()) == \
        ["plan.bin", "plan.md"]
    (comment,) = runner.github_state["comments"]["7"]
    assert comment["body"].startswith("<!-- lorainfra:staging -->\n### lorainfra plan `staging`")
    assert "Plan: 5 to add, 0 to change, 0 to destroy." in comment["body"]
    assert "Plan: 5 to add" in first.summary

    # a second push to the pull request updates the same (sticky) comment
    again = plan_on_pr(runner)
    assert again.code == 0, again.log
    assert [c["id"] for c in runner.github_state["comments"]["7"]] == [comment["id"]]
    plan_run = str(runner.next_run_id)

    merged(runner, plan_run)
    applied = runner.run({"command": "apply", "folder": "infra/staging", "environment": "staging"},
                         event="push", sha=MERGE_SHA)
    assert applied.code == 0, applied.log
    assert applied.outputs["find"]["run-id"] == plan_run
    assert applied.outputs["apply"] == {"stale": "false", "exitcode": "0"}
    assert "Apply complete! Resources: 5 done" in applied.summary
    check = lorainfra("plan", ".", "--detailed-exitcode", cwd=runner.workspace / "infra" / "staging")
    assert check.returncode == 0, check.stdout + check.stderr  # the account now matches the config


@pytest.mark.timeout(900)
def test_stale_artifact_is_refused_and_a_fresh_plan_saved(runner: Runner) -> None:
    planned = plan_on_pr(runner)
    assert planned.code == 0, planned.log
    plan_run = str(runner.next_run_id)
    folder = runner.workspace / "infra" / "staging"
    # someone applies by hand between review and merge
    done = lorainfra("apply", ".", "--auto-approve", "--target", "deployment.sql-helper", cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr

    merged(runner, plan_run)
    refused = runner.run({"command": "apply", "folder": "infra/staging", "environment": "staging"},
                         event="push", sha=MERGE_SHA)
    assert refused.code == 1 and refused.failed_step == "result", refused.log
    assert refused.outputs["apply"]["stale"] == "true"
    assert "the saved plan is stale and was not applied" in refused.summary
    assert "Fresh plan (not applied; needs review and approval)" in refused.summary
    assert "Plan: 4 to add" in refused.summary
    fresh_run = str(runner.next_run_id)
    assert (runner.artifacts / fresh_run / "lorainfra-plan-staging" / "plan.bin").is_file()
    listed = lorainfra("state", "list", "--dir", ".", cwd=folder).stdout.splitlines()
    assert [line.split()[0] for line in listed] == ["deployment.sql-helper"]  # nothing of the stale plan applied

    # once reviewed, the fresh plan is applied by naming its run (workflow_dispatch)
    approved = runner.run({"command": "apply", "folder": "infra/staging", "environment": "staging",
                           "plan-run-id": fresh_run}, event="workflow_dispatch", sha=MERGE_SHA)
    assert approved.code == 0, approved.log
    assert "find" in approved.ran and approved.outputs["find"]["run-id"] == fresh_run


@pytest.mark.timeout(900)
def test_plan_errors_reach_the_comment_and_fail_the_job(runner: Runner) -> None:
    loras = runner.workspace / "infra" / "staging" / "loras.yaml"
    loras.write_text(loras.read_text().replace("deployment: shared-base\n", "deployment: shred-base\n", 1))
    failed = plan_on_pr(runner)
    assert failed.code == 1 and failed.failed_step == "result", failed.log
    assert failed.outputs["plan"]["exitcode"] == "1"
    (comment,) = runner.github_state["comments"]["7"]
    assert "### lorainfra plan `staging` failed" in comment["body"]
    assert "loras.yaml:6:17: error: no deployment 'shred-base'; did you mean 'shared-base'?" in comment["body"]
    assert not (runner.artifacts / str(runner.next_run_id)).exists()  # nothing to apply


@pytest.mark.timeout(900)
def test_nightly_drift(runner: Runner) -> None:
    folder = runner.workspace / "infra" / "staging"
    clean = runner.run({"command": "drift", "folder": "infra/staging", "environment": "staging"}, event="schedule")
    assert clean.code == 0 and clean.outputs["drift"]["exitcode"] == "0", clean.log
    assert "lorainfra drift `staging`" in clean.summary
    # a merge run that finds no pull request refuses: nothing reviewed to apply
    orphan = runner.run({"command": "apply", "folder": "infra/staging", "environment": "staging"},
                        event="push", sha=MERGE_SHA)
    assert orphan.code == 1 and orphan.failed_step == "find", orphan.log
    assert "is not the merge of a pull request" in orphan.log
    assert lorainfra("state", "list", "--dir", ".", cwd=folder).stdout.strip() == ""


def test_unknown_command_is_a_clear_error(runner: Runner) -> None:
    shutil.rmtree(runner.workspace / "infra")
    bad = runner.run({"command": "destroy"}, event="push")
    assert bad.code == 1 and bad.failed_step == "install"
    assert "command must be plan, apply or drift, not 'destroy'" in bad.log
