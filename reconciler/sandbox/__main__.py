"""`python -m reconciler.sandbox`: the sandbox command without the main CLI."""

from __future__ import annotations

from .command import main

if __name__ == "__main__":
    main()
