"""One source for what Fireworks documents about serverless LoRAs: the client's checks and the emulator read
``lorainfra.documented``; neither keeps a copy that could drift from the other."""

from __future__ import annotations

from pathlib import Path

from lorainfra import documented
from lorainfra.config.model import Limits
from lorainfra.emulator.options import EmulatorOptions
from lorainfra.kinds import lora


def test_client_and_emulator_read_the_same_documented_values() -> None:
    options, limits = EmulatorOptions(), Limits()
    assert options.serverless_lora_bases is documented.SERVERLESS_LORA_BASES
    assert lora.DOCUMENTED_SERVERLESS_LORA_BASES is documented.SERVERLESS_LORA_BASES
    assert (options.serverless_per_base_limit, limits.serverless_per_base_model) == (
        documented.SERVERLESS_LORAS_PER_BASE_MODEL, documented.SERVERLESS_LORAS_PER_BASE_MODEL)
    assert (options.serverless_limit, limits.serverless) == (
        documented.SERVERLESS_LORAS_PER_ACCOUNT, documented.SERVERLESS_LORAS_PER_ACCOUNT)


def test_the_shared_module_is_data_only() -> None:
    # both layers may import it (import-linter: a core module) because it imports nothing of lorainfra's
    source = Path(documented.__file__).read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["from __future__ import annotations"]
