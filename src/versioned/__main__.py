"""``python -m versioned``: the command line."""

from versioned.cli import main

if __name__ == "__main__":
    main()
