"""Action kit: runs the composite action (action.yml) locally, the way a GitHub runner would.

- ``${{ }}`` expressions in ``env:``, ``with:`` and ``if:`` are evaluated against the contexts the
  action uses (inputs with their defaults, github, runner, steps' outputs): refs, '...' literals,
  ==, !=, &&, || and parentheses (all this action uses; anything else fails the test);
- ``run:`` steps run as GitHub runs them (``bash --noprofile --norc -eo pipefail``) with
  GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_PATH, GITHUB_ENV and the default GITHUB_* variables;
- the first failing step ends the run (later steps are skipped, as on GitHub);
- ``actions/upload-artifact`` / ``download-artifact`` copy files to and from a folder per run ID;
  ``actions/setup-python`` is a no-op (the machine's python3 is used);
- ``gh`` is a fake on PATH that serves pull-request comments, pulls and runs from a JSON file and
  applies ``--jq`` filters with the real jq.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

ACTION = ROOT / "action.yml"
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
TOKEN = re.compile(r"\s*(?:(?P<str>'[^']*')|(?P<op>==|!=|&&|\|\||\(|\))|(?P<ref>[A-Za-z_][A-Za-z0-9_.-]*))")

FAKE_GH = r'''#!/usr/bin/env python3
"""Fake gh: `gh api [--paginate] [-X METHOD] PATH [-F body=@FILE] [--jq FILTER]` over a JSON file."""
import json, os, subprocess, sys
args = sys.argv[1:]
assert args[0] == "api", args
args = args[1:]
method, body, jq, path = "GET", None, None, None
while args:
    a = args.pop(0)
    if a == "--paginate":
        continue
    if a == "-X":
        method = args.pop(0)
    elif a == "-F":
        key, _, value = args.pop(0).partition("=")
        assert key == "body" and value.startswith("@")
        body = open(value[1:]).read()
    elif a == "--jq":
        jq = args.pop(0)
    else:
        path = a
state_file = os.environ["FAKE_GH_STATE"]
state = json.load(open(state_file))
state.setdefault("calls", []).append([method, path])
parts = path.split("?")[0].split("/")
result = None
if parts[3:4] == ["issues"] and parts[-1] == "comments":
    comments = state.setdefault("comments", {}).setdefault(parts[4], [])
    if method == "POST":
        state["next_id"] = state.get("next_id", 100) + 1
        result = {"id": state["next_id"], "body": body}
        comments.append(result)
    else:
        result = comments
elif parts[3:5] == ["issues", "comments"] and method == "PATCH":
    for comments in state.get("comments", {}).values():
        for c in comments:
            if str(c["id"]) == parts[5]:
                c["body"] = body
                result = c
    assert result is not None, "no such comment"
elif parts[3] == "commits" and parts[-1] == "pulls":
    result = state.get("pulls", {}).get(parts[4], [])
elif parts[3:5] == ["actions", "runs"]:
    query = dict(kv.split("=") for kv in path.split("?")[1].split("&"))
    result = {"workflow_runs": [r for r in state.get("runs", []) if r["head_sha"] == query["head_sha"]]}
else:
    sys.exit(f"fake gh: unexpected {method} {path}")
json.dump(state, open(state_file, "w"))
text = json.dumps(result)
if jq:
    text = subprocess.run(["jq", "-r", jq], input=text, capture_output=True, text=True, check=True).stdout
    sys.stdout.write(text)
else:
    print(text)
'''


def load_action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return data


@dataclass
class Run:
    """One run of the action: what each step did."""

    code: int = 0
    failed_step: str = ""
    ran: list[str] = field(default_factory=list)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    summary: str = ""
    log: str = ""


@dataclass
class Runner:
    """A fake GitHub runner: one workspace, one RUNNER_TEMP, one artifact store, one fake GitHub API."""

    root: Path
    repository: str = "acme/infra"
    workflow: str = "lorainfra"
    env: dict[str, str] = field(default_factory=dict)
    next_run_id: int = 1000

    def __post_init__(self) -> None:
        self.workspace = self.root / "workspace"
        self.temp = self.root / "runner-temp"
        self.artifacts = self.root / "artifacts"
        self.bin = self.root / "fake-bin"
        for folder in (self.workspace, self.temp, self.artifacts, self.bin):
            folder.mkdir(parents=True, exist_ok=True)
        gh = self.bin / "gh"
        gh.write_text(FAKE_GH)
        gh.chmod(0o755)
        self.state_file = self.root / "github.json"
        self.state_file.write_text("{}")

    @property
    def github_state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.state_file.read_text())
        return state

    def set_github_state(self, **values: Any) -> None:
        self.state_file.write_text(json.dumps({**self.github_state, **values}))

    # --- expressions ----------------------------------------------------------------------------------

    def _lookup(self, ref: str, ctx: dict[str, Any]) -> Any:
        if ref in ("true", "false"):
            return ref == "true"
        value: Any = ctx
        for part in ref.split("."):
            if not isinstance(value, dict):
                return ""
            value = value.get(part, "")
        return value

    def evaluate(self, expr: str, ctx: dict[str, Any]) -> Any:
        pieces: list[str] = []
        pos = 0
        expr = expr.strip()
        while pos < len(expr):
            m = TOKEN.match(expr, pos)
            assert m and m.end() > pos, f"unsupported expression {expr!r} at {expr[pos:]!r}"
            pos = m.end()
            if m.group("str") is not None:
                pieces.append(repr(m.group("str")[1:-1]))
            elif m.group("op") is not None:
                pieces.append({"&&": " and ", "||": " or "}.get(m.group("op"), m.group("op")))
            else:
                pieces.append(repr(self._lookup(m.group("ref"), ctx)))
        return eval("".join(pieces), {"__builtins__": {}}, {})

    def expand(self, text: Any, ctx: dict[str, Any]) -> str:
        if isinstance(text, bool):
            return str(text).lower()
        text = str(text)
        found = list(EXPR.finditer(text.strip()))
        if len(found) == 1 and found[0].span() == (0, len(text.strip())):  # one expression: keep its type
            value = self.evaluate(found[0].group(1), ctx)
            return str(value).lower() if isinstance(value, bool) else str(value)
        return EXPR.sub(lambda m: str(self.evaluate(m.group(1), ctx)), text)

    # --- running ----------------------------------------------------------------------------------------

    def run(self, inputs: dict[str, Any], *, event: str, sha: str = "0" * 40, pr: int | None = None) -> Run:
        """Run the action once, as one job step of workflow run ``run_id`` triggered by ``event``."""
        action = load_action()
        self.next_run_id += 1
        run_id = str(self.next_run_id)
        given = {k: self.expand(v, {}) if not isinstance(v, str) else v for k, v in inputs.items()}
        unknown = set(given) - set(action["inputs"])
        assert not unknown, f"inputs the action does not declare: {unknown}"
        github: dict[str, Any] = {
            "token": "fake-token", "event_name": event, "repository": self.repository, "sha": sha,
            "workflow": self.workflow, "run_id": run_id, "action_path": str(ROOT),
            "action_repository": "OWNER/lorainfra", "event": {"pull_request": {"number": pr} if pr else {}},
        }
        ctx: dict[str, Any] = {"github": github, "runner": {"temp": str(self.temp)}, "steps": {}, "inputs": {}}
        for name, spec in action["inputs"].items():
            assert not spec.get("required") or name in given, f"required input {name} missing"
            ctx["inputs"][name] = given.get(name, self.expand(spec.get("default", ""), ctx))
        result = Run()
        summary = self.root / f"summary-{run_id}.md"
        summary.write_text("")
        gh_path = self.root / f"path-{run_id}"
        gh_path.write_text("")
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("FIREWORKS_", "GITHUB_", "VIRTUAL_ENV"))}
        base_env.update(self.env)
        base_env.update({
            "GITHUB_REPOSITORY": self.repository, "GITHUB_SHA": sha, "GITHUB_WORKFLOW": self.workflow,
            "GITHUB_RUN_ID": run_id, "GITHUB_EVENT_NAME": event, "GITHUB_WORKSPACE": str(self.workspace),
            "RUNNER_TEMP": str(self.temp), "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_PATH": str(gh_path),
            "FAKE_GH_STATE": str(self.state_file), "CI": "true", "GITHUB_ACTIONS": "true",
        })
        # python3 is what setup-python would give (the interpreter running these tests); the dev install's
        # lorainfra is kept off PATH, so the steps use the one the action installed
        python_bin = self.root / "python-bin"
        if not python_bin.exists():
            python_bin.mkdir()
            (python_bin / "python3").symlink_to(sys.executable)
        dev_bin = str(Path(sys.executable).parent)
        kept = [p for p in base_env.get("PATH", "").split(os.pathsep) if p and p != dev_bin]
        base_env["PATH"] = os.pathsep.join([str(self.bin), str(python_bin), *kept])
        for index, step in enumerate(action["runs"]["steps"]):
            label = step.get("id") or step.get("name") or f"step{index}"
            condition = step.get("if")
            if condition is not None and not self.evaluate(str(condition), ctx):
                continue
            result.ran.append(label)
            code, outputs, log = self._step(step, ctx, base_env, gh_path, run_id)
            result.log += f"--- {label} (exit {code})\n{log}"
            if step.get("id"):
                ctx["steps"][step["id"]] = {"outputs": outputs}
                result.outputs[step["id"]] = outputs
            if code != 0:
                result.code, result.failed_step = code, label
                break
        result.summary = summary.read_text()
        return result

    def _step(self, step: dict[str, Any], ctx: dict[str, Any], base_env: dict[str, str], gh_path: Path,
              run_id: str) -> tuple[int, dict[str, str], str]:
        if "uses" in step:
            with_ = {k: self.expand(v, ctx) for k, v in (step.get("with") or {}).items()}
            return self._uses(step["uses"], with_, run_id)
        assert step.get("shell") == "bash", "every run: step says shell: bash"
        env = dict(base_env)
        extra_path = [line for line in gh_path.read_text().splitlines() if line]
        env["PATH"] = os.pathsep.join([*reversed(extra_path), env["PATH"]])
        env.update({k: self.expand(v, ctx) for k, v in (step.get("env") or {}).items()})
        output_file = self.root / f"output-{run_id}-{len(list(self.root.glob('output-*')))}"
        output_file.write_text("")
        env["GITHUB_OUTPUT"] = str(output_file)
        script = self.root / "step.sh"
        script.write_text(step["run"])
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=self.workspace,
                              env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
        outputs = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line)
        return proc.returncode, outputs, proc.stdout + proc.stderr

    def _uses(self, uses: str, with_: dict[str, str], run_id: str) -> tuple[int, dict[str, str], str]:
        name = uses.split("@")[0]
        if name == "actions/setup-python":
            return 0, {}, "setup-python: using the machine's python3\n"
        if name == "actions/upload-artifact":
            store = self.artifacts / run_id / with_["name"]
            if store.exists() and with_.get("overwrite") != "true":
                return 1, {}, f"artifact {with_['name']} exists\n"
            shutil.rmtree(store, ignore_errors=True)
            store.mkdir(parents=True)
            for line in with_["path"].splitlines():
                src = Path(line.strip())
                if not line.strip():
                    continue
                if not src.exists():
                    if with_.get("if-no-files-found") == "error":
                        return 1, {}, f"upload-artifact: no file {src}\n"
                    continue
                shutil.copy2(src, store / src.name)
            return 0, {}, f"uploaded {with_['name']} to run {run_id}\n"
        if name == "actions/download-artifact":
            source_run = with_.get("run-id") or run_id
            store = self.artifacts / source_run / with_["name"]
            if not store.is_dir():
                return 1, {}, f"download-artifact: no artifact {with_['name']} in run {source_run}\n"
            dest = Path(with_["path"])
            dest.mkdir(parents=True, exist_ok=True)
            for f in store.iterdir():
                shutil.copy2(f, dest / f.name)
            return 0, {}, f"downloaded {with_['name']} of run {source_run}\n"
        raise AssertionError(f"the kit does not know {uses}")
