"""`python -m cli.devstack up|down|status`."""

import sys

from cli.devstack import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
