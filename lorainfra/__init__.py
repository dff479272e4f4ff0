"""lorainfra: Terraform for Fireworks AI deployments and LoRA adapters."""

__version__ = "0.1.0"
