"""Entry point for ``python -m lorainfra``."""

from lorainfra.cli.app import main

if __name__ == "__main__":
    main()
