"""Config folder entries that are not plain readable files, and links that leave the folder (issue 13: 1, 13).

A ``*.yaml`` entry that is a dangling link, a FIFO, a directory or otherwise unreadable is an error
naming it: were it skipped, the plan would destroy what the file declared. A link out of the folder
is refused unless the caller allows it, so no content of a file outside the folder is ever quoted;
and keys that are not plain names (the lines of a non-YAML file) are never quoted either.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cfgkit import BASE, MAIN, ConfigFolder

from lorainfra.config.loader import (
    ALLOW_OUTSIDE_LINKS_ENV,
    MAX_TOTAL_BYTES,
    config_digest,
    load_config,
    outside_links_allowed,
)
from lorainfra.errors import ConfigError

DEP = f"deployments:\n  base:\n    base_model: {BASE}\n    shape: default\n"
BIN = Path(sys.executable).parent / "lorainfra"
SHADOW = "root:$6$xyzSALT$HASHHASHHASH:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"


def rendered(folder: Path, **kwargs: bool) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(folder, **kwargs)
    for diagnostic in info.value.diagnostics:
        assert diagnostic.message and diagnostic.hint, diagnostic
    return str(info.value)


@pytest.mark.timeout(20)
def test_fifo_is_an_error_and_never_blocks(cfg: ConfigFolder) -> None:
    folder = cfg.write({"deployments.yaml": DEP})
    os.mkfifo(folder / "loras.yaml")
    text = rendered(folder)
    assert "loras.yaml: error: loras.yaml is a named pipe (FIFO), not a regular file" in text


@pytest.mark.timeout(20)
def test_fifo_with_a_writer_waiting_is_still_an_error(cfg: ConfigFolder) -> None:
    """Even when something feeds the pipe, its content is not read as config."""
    folder = cfg.write({})
    fifo = folder / "deployments.yaml"
    os.mkfifo(fifo)
    ready = threading.Event()

    def feed() -> None:
        fd = os.open(fifo, os.O_RDWR)  # O_RDWR never blocks on a FIFO (Linux)
        try:
            os.write(fd, DEP.encode())
            ready.set()
        finally:
            os.close(fd)

    writer = threading.Thread(target=feed)
    writer.start()
    assert ready.wait(10)
    writer.join(10)
    assert "deployments.yaml is a named pipe (FIFO)" in rendered(folder)


def test_dangling_symlink_is_an_error(cfg: ConfigFolder) -> None:
    folder = cfg.write({"deployments.yaml": DEP})
    (folder / "loras.yaml").symlink_to("loras-v2.yaml")
    text = rendered(folder)
    assert "loras.yaml: error: loras.yaml is a symbolic link to" in text
    assert "which does not exist" in text


def test_symlink_loop_is_an_error(cfg: ConfigFolder) -> None:
    folder = cfg.write({})
    (folder / "a.yaml").symlink_to("b.yaml")
    (folder / "b.yaml").symlink_to("a.yaml")
    text = rendered(folder)
    assert "a.yaml: error: cannot read a.yaml" in text and "b.yaml: error: cannot read b.yaml" in text


def test_directory_named_yaml_is_an_error(cfg: ConfigFolder) -> None:
    folder = cfg.write({"deployments.yaml": DEP})
    (folder / "loras.yaml").mkdir()
    (folder / "old.yml").mkdir()
    text = rendered(folder)
    assert "loras.yaml: error: loras.yaml is a directory, not a file" in text
    assert "old.yml: error: old.yml is a directory, not a file" in text


def test_socket_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "c"  # short path: AF_UNIX paths are limited to ~100 bytes
    folder.mkdir()
    (folder / "lorainfra.yaml").write_text(MAIN)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "s.yaml"))
        assert "s.yaml: error: s.yaml is a socket, not a regular file" in rendered(folder)


def test_main_file_that_is_a_directory_is_named(cfg: ConfigFolder) -> None:
    folder = cfg.write({}, main=None)
    (folder / "lorainfra.yaml").mkdir()
    assert "lorainfra.yaml: error: lorainfra.yaml is a directory, not a file" in rendered(folder)


def test_main_file_that_is_a_dangling_link_is_named(cfg: ConfigFolder) -> None:
    folder = cfg.write({}, main=None)
    (folder / "lorainfra.yaml").symlink_to("gone.yaml")
    assert "lorainfra.yaml: error: lorainfra.yaml is a symbolic link to" in rendered(folder)


def test_a_skipped_file_would_have_destroyed_its_resources(cfg: ConfigFolder) -> None:
    """The harm the rule prevents: with the entry skipped, validate succeeded with one resource fewer."""
    folder = cfg.write({"deployments.yaml": DEP})
    assert len(load_config(folder).resources) == 1
    os.rename(folder / "deployments.yaml", folder / "real.txt")
    (folder / "deployments.yaml").symlink_to(folder / "missing" / "real.txt")
    with pytest.raises(ConfigError):
        load_config(folder)


def test_dotfiles_and_other_extensions_are_still_ignored(cfg: ConfigFolder) -> None:
    folder = cfg.write({"deployments.yaml": DEP})
    os.mkfifo(folder / ".hidden.yaml")
    (folder / "notes.txt").symlink_to("nowhere")
    (folder / "env").mkdir()
    assert len(load_config(folder).resources) == 1


def test_link_inside_the_folder_is_followed(cfg: ConfigFolder) -> None:
    folder = cfg.write({"variants/prod.yaml": DEP})
    (folder / "deployments.yaml").symlink_to(Path("variants") / "prod.yaml")
    config = load_config(folder)
    assert [a.name for a in config.resources] == ["base"]
    assert config.files == ("deployments.yaml", "lorainfra.yaml")


def test_link_outside_the_folder_is_refused_and_never_quoted(cfg: ConfigFolder, tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text(SHADOW)
    folder = cfg.write({"deployments.yaml": DEP})
    (folder / "evil.yaml").symlink_to(secret)
    text = rendered(folder)
    assert "evil.yaml: error: evil.yaml is a symbolic link to a file outside the config folder" in text
    assert ALLOW_OUTSIDE_LINKS_ENV in text
    for needle in ("root", "HASH", "daemon", "99999"):
        assert needle not in text


def test_link_outside_through_a_linked_folder_is_refused(cfg: ConfigFolder, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.yaml").write_text(DEP)
    folder = cfg.write({})
    (folder / "sub").symlink_to(outside)
    (folder / "deployments.yaml").symlink_to(Path("sub") / "x.yaml")
    assert "outside the config folder" in rendered(folder)


def test_dangling_link_outside_is_refused_without_probing_the_target(cfg: ConfigFolder) -> None:
    folder = cfg.write({})
    (folder / "x.yaml").symlink_to("/nonexistent-lorainfra-test/x.yaml")
    text = rendered(folder)
    assert "outside the config folder" in text and "does not exist" not in text


def test_folder_reached_through_a_link_still_reads_its_own_links(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "lorainfra.yaml").write_text(MAIN)
    (real / "prod.txt").write_text(DEP)
    (real / "deployments.yaml").symlink_to("prod.txt")
    (tmp_path / "alias").symlink_to(real)
    assert [a.name for a in load_config(tmp_path / "alias").resources] == ["base"]


def test_links_outside_can_be_allowed_explicitly(cfg: ConfigFolder, tmp_path: Path) -> None:
    shared = tmp_path / "shared.yaml"
    shared.write_text(DEP)
    folder = cfg.write({})
    (folder / "deployments.yaml").symlink_to(shared)
    with pytest.raises(ConfigError):
        load_config(folder)
    assert [a.name for a in load_config(folder, allow_outside_links=True).resources] == ["base"]


def test_allowed_links_must_still_be_regular_files(cfg: ConfigFolder) -> None:
    folder = cfg.write({})
    (folder / "zero.yaml").symlink_to("/dev/zero")
    assert "zero.yaml is a character device, not a regular file" in rendered(folder, allow_outside_links=True)


@pytest.mark.parametrize(("value", "allowed"), [("1", True), ("yes", True), ("true", True), ("", False),
                                                  ("0", False), ("no", False)])
def test_outside_links_allowed_reads_the_variable(value: str, allowed: bool) -> None:
    assert outside_links_allowed({ALLOW_OUTSIDE_LINKS_ENV: value}) is allowed
    assert outside_links_allowed({}) is False


def test_non_yaml_lines_are_never_quoted(cfg: ConfigFolder) -> None:
    """A non-YAML file in the folder (here /etc/shadow-like lines) is named, its lines are not shown."""
    folder = cfg.write({"deployments.yaml": DEP, "copy.yaml": SHADOW})
    text = rendered(folder)
    assert "copy.yaml:1:1: error: copy.yaml does not look like a lorainfra config file" in text
    assert text.count("copy.yaml") == 2  # one diagnostic for the file, not one per line
    for needle in ("root", "HASH", "daemon", "99999"):
        assert needle not in text


def test_plain_unknown_keys_are_still_quoted_with_a_suggestion(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"deployments.yaml": "deploymnts: {}\nnot a name: 1\n"})
    assert errors[0] == "deployments.yaml:1:1: unknown top-level key 'deploymnts' in deployments.yaml"
    assert errors[1].startswith("deployments.yaml:2:1: deployments.yaml does not look like a lorainfra config file")
    assert "not a name" not in "\n".join(errors)


def test_total_size_of_the_folder_is_capped(cfg: ConfigFolder) -> None:
    pad = "# " + "x" * 1021 + "\n"
    size = 4 * 1024 * 1024
    files: dict[str, str | bytes] = {f"f{i}.yaml": pad * (size // 1024) for i in range(MAX_TOTAL_BYTES // size + 1)}
    folder = cfg.write(files)
    text = rendered(folder)
    assert f"the config files add up to more than {MAX_TOTAL_BYTES // 1_048_576} MB" in text


@pytest.mark.timeout(20)
def test_config_digest_never_blocks_and_names_the_entry(cfg: ConfigFolder) -> None:
    folder = cfg.write({"deployments.yaml": DEP})
    os.mkfifo(folder / "loras.yaml")
    with pytest.raises(ConfigError, match=r"loras\.yaml is a named pipe"):
        config_digest(folder)


def _validate(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != ALLOW_OUTSIDE_LINKS_ENV}
    full.update(env)
    return subprocess.run([str(BIN), "validate", str(folder)], env=full, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_cli_refuses_outside_links_unless_the_variable_allows_them(cfg: ConfigFolder, tmp_path: Path) -> None:
    shared = tmp_path / "shared.yaml"
    shared.write_text(DEP)
    folder = cfg.write({})
    (folder / "deployments.yaml").symlink_to(shared)
    refused = _validate(folder)
    assert refused.returncode == 1
    assert "deployments.yaml is a symbolic link to a file outside the config folder" in refused.stderr + refused.stdout
    allowed = _validate(folder, **{ALLOW_OUTSIDE_LINKS_ENV: "1"})
    assert allowed.returncode == 0, allowed.stderr
    assert "1 resource" in allowed.stdout


def test_cli_validate_names_a_fifo_instead_of_succeeding(cfg: ConfigFolder) -> None:
    folder = cfg.write({"deployments.yaml": DEP})
    os.mkfifo(folder / "loras.yaml")
    result = _validate(folder)
    assert result.returncode == 1
    assert "loras.yaml is a named pipe (FIFO)" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
