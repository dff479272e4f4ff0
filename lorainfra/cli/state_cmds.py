"""State commands: list, show, rm, mv, history, pull, push, migrate (``state_app``), and force-unlock."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lorainfra.cli.options import DirArg, LockTimeout, parse_timeout
from lorainfra.errors import LorainfraError, StateError

if TYPE_CHECKING:  # heavy modules are imported inside the commands (fast `lorainfra --help`)
    from lorainfra.state.backend import StateBackend
    from lorainfra.state.model import State

state_app = typer.Typer(help="Inspect and change the state (what lorainfra manages).", no_args_is_help=True)
DirOpt = Annotated[str | None, typer.Option("--dir", "-C", help="Config folder (or give it as the last argument).")]
FolderArg = Annotated[str | None, typer.Argument(help="Config folder (default: the current folder).", show_default=False)]


def _folder(positional: str | None, option: str | None) -> str:
    """The config folder, given positionally (like every other command) or with --dir."""
    if positional and option and Path(positional).resolve() != Path(option).resolve():
        raise typer.BadParameter(f"two folders given: {positional} and --dir {option}; give one", param_hint="DIR")
    return positional or option or "."


def _backend(ctx: typer.Context, directory: str) -> StateBackend:
    import os

    from lorainfra.cli.options import load_selected
    from lorainfra.state.open import default_who, open_backend

    config = load_selected(ctx, directory, os.environ)

    return open_backend(config.state, Path(config.root), environ=os.environ, who=default_who())


def _state(backend: StateBackend) -> State:
    state = backend.read()
    if state is None:
        raise StateError(f"no state yet in {backend.describe()}: nothing has been applied")
    return state


@state_app.command("list")
def list_(ctx: typer.Context, folder: FolderArg = None, directory: DirOpt = None) -> None:
    """Every managed address and its live object."""
    state = _backend(ctx, _folder(folder, directory)).read()
    for address, res in sorted((state.resources if state else {}).items()):
        print(f"{address}\t{res.remote_name}")
    for address in sorted(state.pending if state else {}):
        print(f"{address}\t(pending {state.pending[address].operation})" if state else "")
    for name, old in sorted((state.deposed if state else {}).items()):
        print(f"{old.address}\t{name} (deposed: the next apply deletes it)")


@state_app.command("show")
def show(ctx: typer.Context, address: Annotated[str, typer.Argument()], folder: FolderArg = None, directory: DirOpt = None) -> None:
    """One managed resource as recorded (last applied attributes, dependencies)."""
    from lorainfra.state.ops import state_address

    state = _state(_backend(ctx, _folder(folder, directory)))
    res = state.resources.get(state_address(address))
    if res is None:
        raise StateError(f"{address} is not in the state (see `lorainfra state list`)")
    print(json.dumps(res.to_json(), indent=2, sort_keys=True))


@state_app.command("rm")
def rm(ctx: typer.Context, address: Annotated[str, typer.Argument()], folder: FolderArg = None, directory: DirOpt = None,
       lock_timeout: LockTimeout = "0s") -> None:
    """Forget a resource without deleting it (it becomes 'not managed')."""
    from lorainfra.state.ops import state_rm

    backend = _backend(ctx, _folder(folder, directory))
    with backend.lock("state rm", timeout=parse_timeout(lock_timeout)):
        written = backend.write(state_rm(_state(backend), address), operation="state rm")
    print(f"Removed {address} from the state (serial {written.serial}); the live object was not touched.")


@state_app.command("mv")
def mv(ctx: typer.Context, old: Annotated[str, typer.Argument()], new: Annotated[str, typer.Argument()], folder: FolderArg = None,
       directory: DirOpt = None, lock_timeout: LockTimeout = "0s") -> None:
    """Rename a managed resource without destroying and recreating it."""
    from lorainfra.state.ops import state_mv

    backend = _backend(ctx, _folder(folder, directory))
    with backend.lock("state mv", timeout=parse_timeout(lock_timeout)):
        written = backend.write(state_mv(_state(backend), old, new), operation="state mv")
    print(f"Moved {old} to {new} (serial {written.serial}).")


@state_app.command("history")
def history(ctx: typer.Context, folder: FolderArg = None, directory: DirOpt = None) -> None:
    """Every state version kept: serial, time, who, operation."""
    from lorainfra.state.backend import DamagedStateError

    backend = _backend(ctx, _folder(folder, directory))
    try:
        backend.read()
    except DamagedStateError as exc:
        sys.stderr.write(f"Warning: {exc}\nThe versions still kept:\n")
    for entry in backend.history():
        print(f"{entry.serial}\t{entry.written_at}\t{entry.who}\t{entry.operation}")


@state_app.command("pull")
def pull(ctx: typer.Context, folder: FolderArg = None, directory: DirOpt = None,
         serial: Annotated[int | None, typer.Option(help="An older serial.")] = None) -> None:
    """Print the state document (the latest, or --serial N)."""
    backend = _backend(ctx, _folder(folder, directory))
    state = backend.read_serial(serial) if serial is not None else backend.read()
    if state is None:
        raise StateError(f"serial {serial} is not kept" if serial is not None else "no state yet")
    sys.stdout.write(state.dumps())


@state_app.command("push")
def push(ctx: typer.Context, file: Annotated[str, typer.Argument()], folder: FolderArg = None, directory: DirOpt = None,
         force: Annotated[bool, typer.Option("--force", help="Allow a serial not above the stored one.")] = False,
         lock_timeout: LockTimeout = "0s") -> None:
    """Replace the stored state with FILE (same lineage, newer serial)."""
    from lorainfra.state.model import State
    from lorainfra.state.ops import check_push

    try:
        incoming = State.loads(Path(file).read_text(encoding="utf-8"))
    except OSError as exc:
        raise LorainfraError(f"cannot read {file}: {exc}") from exc
    from lorainfra.state.backend import DamagedStateError

    backend = _backend(ctx, _folder(folder, directory))
    with backend.lock("state push", timeout=parse_timeout(lock_timeout)):
        try:
            current = backend.read()
        except DamagedStateError as exc:
            if not force:
                raise StateError(f"{exc}.\nPass --force to replace the damaged state with {file}.") from None
            written = backend.restore(incoming, operation="state push")
        else:
            written = backend.write(check_push(current, incoming, force=force), operation="state push")
    print(f"Pushed {file} (now serial {written.serial}).")


@state_app.command("migrate")
def migrate_cmd(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="Destination backend: postgres or local.")],
    folder: FolderArg = None,
    directory: DirOpt = None,
    dsn_env: Annotated[str, typer.Option("--dsn-env", help="Env var holding the destination DSN.")] = "LORAINFRA_STATE_DSN",
    workspace: Annotated[str, typer.Option("--workspace")] = "default",
    path: Annotated[str | None, typer.Option("--path", help="Destination file (local).")] = None,
    lock_timeout: LockTimeout = "0s",
) -> None:
    """Copy this config's state (with its kept history) to another backend; nothing is lost."""
    import os

    from lorainfra.cli.options import load_selected
    from lorainfra.config.model import StateSettings
    from lorainfra.state.open import default_who, open_backend
    from lorainfra.state.ops import migrate

    config = load_selected(ctx, _folder(folder, directory), os.environ)
    src = open_backend(config.state, Path(config.root), environ=os.environ, who=default_who())
    if to not in ("local", "postgres"):
        raise typer.BadParameter(f"{to!r}: use local or postgres", param_hint="--to")
    if to == "local" and not path:
        raise typer.BadParameter("a local destination needs --path FILE (not the current state file)",
                                 param_hint="--path")
    settings = StateSettings(backend=to, dsn_env=dsn_env if to == "postgres" else None, workspace=workspace, path=path)
    dst = open_backend(settings, Path(config.root), environ=os.environ, who=default_who())
    result = migrate(src, dst, lock_timeout=parse_timeout(lock_timeout))
    print(f"Migrated lineage {result.lineage} to {dst.describe()}: {result.copied} version(s) copied, "
          f"latest serial {result.serial}. Now set `state: {{backend: {to}, ...}}` in lorainfra.yaml.")


def force_unlock(ctx: typer.Context, lock_id: Annotated[str, typer.Argument()], directory: DirArg = ".") -> None:
    """Remove a state lock record whose holder is gone."""
    backend = _backend(ctx, directory)
    backend.force_unlock(lock_id)
    print(f"Lock {lock_id} removed.")
