"""lorainfra performance benchmarks: plan at scale, apply at scale vs the critical path and the SDK, CLI start-up.

Run with ``.venv/bin/python -m benchmarks`` (full, several minutes) or ``--small`` (seconds, for CI).
"""
