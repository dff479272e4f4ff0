"""CLI: the typer application, console renderers and plan rendering."""
