"""`python -m citerec`: the same command line as `citerec` (editors can start the server without the script)."""

from citerec.cli import main

main()
