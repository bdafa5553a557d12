"""Run a command and write its peak resident memory (KiB) to a file: ``python bench/peak_rss.py OUT CMD...``.

A child's ``ru_maxrss`` counts the memory of the process it was forked from until it execs: the
bench process holds a million synthetic clients, so every command it started directly "peaked" at
the bench's own ~700 MiB. This script is small when it forks, so the figure it writes is the
command's own. It imports nothing beyond the standard library for that reason.
"""

import os
import sys


def main() -> int:
    out, command = sys.argv[1], sys.argv[2:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    with open(out, "w") as handle:
        handle.write(str(usage.ru_maxrss))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
