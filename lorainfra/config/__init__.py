"""Config: loading, validating and modelling a lorainfra config folder."""
