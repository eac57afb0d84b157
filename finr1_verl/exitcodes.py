"""Exit codes shared by every finr1 command line tool."""

DONE = 0
FAILED = 1
BAD_INPUT = 2
INCOMPLETE = 3
NO_GPU = 4
