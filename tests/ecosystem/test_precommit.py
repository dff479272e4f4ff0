"""The pre-commit hooks of .pre-commit-hooks.yaml, run with `pre-commit try-repo` on a copy of examples/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES, ROOT

PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


def test_hooks_manifest() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"lorainfra-validate", "lorainfra-fmt"}
    for hook in hooks.values():
        assert hook["language"] == "python"  # installs lorainfra from this repository at the pinned rev
        assert hook["pass_filenames"] is False  # a config is a folder, and other YAML is not ours
        assert hook["entry"].split()[0] == "lorainfra"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=ci@example.invalid", "-c", "user.name=ci", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout


def snapshot(dst: Path) -> Path:
    """This working tree (tracked and new files) as a one-commit repository: pre-commit installs it once."""
    for name in git(ROOT, "ls-files", "-co", "--exclude-standard").splitlines():
        src, out = ROOT / name, dst / name
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():  # lorainfra/schemas -> ../schemas
            out.symlink_to(os.readlink(src))
        elif src.is_file():
            shutil.copy2(src, out)
    git(dst, "init", "-q")
    git(dst, "add", "-A")
    git(dst, "commit", "-qm", "snapshot")
    return dst


def run(hooks_repo: Path, repo: Path, home: Path, *hooks: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PATH": f"{PRE_COMMIT.parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("FIREWORKS_API_KEY", None)
    return subprocess.run([str(PRE_COMMIT), "try-repo", str(hooks_repo), *hooks, "--all-files"], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


@pytest.mark.timeout(900)
def test_try_repo_on_examples(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "quickstart", repo, ignore=shutil.ignore_patterns(".lorainfra"))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "config")
    home = tmp_path / "pre-commit-home"
    hooks_repo = snapshot(tmp_path / "lorainfra")

    ok = run(hooks_repo, repo, home)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "lorainfra validate" in ok.stdout and "lorainfra fmt" in ok.stdout

    # unformatted: the fmt hook rewrites the file and fails (pre-commit reports the change)
    loras = repo / "loras.yaml"
    loras.write_text(loras.read_text().replace("    model: accounts/quickstart/models/summarizer-v1\n"
                                               "    serverless: true\n",
                                               "    serverless: true\n"
                                               "    model: 'accounts/quickstart/models/summarizer-v1'\n"))
    git(repo, "add", "-A")
    bad = run(hooks_repo, repo, home, "lorainfra-fmt")
    assert bad.returncode == 1 and "files were modified by this hook" in bad.stdout, bad.stdout + bad.stderr
    assert loras.read_text() == (EXAMPLES / "quickstart" / "loras.yaml").read_text()

    # invalid: the validate hook fails with the diagnostic
    (repo / "deployments.yaml").write_text((repo / "deployments.yaml").read_text().replace("max: 2", "max: 0"))
    git(repo, "add", "-A")
    bad = run(hooks_repo, repo, home, "lorainfra-validate")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "deployments.yaml:8:" in bad.stdout and "replicas.max (0) is less than replicas.min (1)" in bad.stdout
