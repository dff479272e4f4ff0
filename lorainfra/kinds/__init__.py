"""Kinds: one module per resource kind (deployment, lora) and the registry that lists them."""
