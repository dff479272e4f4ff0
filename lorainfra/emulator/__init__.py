"""Local Fireworks control-plane emulator (an ASGI app over SQLite) for tests and offline use."""

from lorainfra.emulator.app import Emulator, EmulatorOptions
from lorainfra.emulator.server import serve

__all__ = ["Emulator", "EmulatorOptions", "serve"]
