"""`make bench`: what the console does per second, per page and per megabyte on this machine.

`python -m bench` (or `--quick`) runs every measurement in one process against a
throwaway SQLite file and prints each figure beside its target; see `__main__`.
"""
