"""Providers: adapters that read and change live resources (the Fireworks REST API)."""
