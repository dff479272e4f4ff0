"""What Fireworks documents about its limits, in one place for both sides of the wire.

lorainfra's plan-time checks (``kinds``, ``config``) and the emulator (which may import nothing else of
lorainfra's layers) read these values; neither keeps a copy. Data only: no logic, no imports.
"""

from __future__ import annotations

# The only base models documented to take serverless LoRAs (the Preview of "specialized model inference",
# docs.fireworks.ai/serverless/specialized-model-inference/overview). No field of a Model says it:
# supportsServerless is about the model's own serverless deployment.
SERVERLESS_LORA_BASES: tuple[str, ...] = ("accounts/fireworks/models/glm-5p3-flash",)

# Serverless LoRAs per base model per account: the Preview's 3 ("Loading a fourth returns ResourceExhausted", same page).
SERVERLESS_LORAS_PER_BASE_MODEL = 3

# Serverless LoRAs per account, all bases together: the seed's number, in no current source (kept as a ceiling).
SERVERLESS_LORAS_PER_ACCOUNT = 100
