"""`python bench/rss.py MODULE ARGS...`: run MODULE as __main__, then print its peak RSS to stderr.

Peak RSS is VmHWM from /proc/self/status (this process image only; getrusage's ru_maxrss
would include the memory of the benchmark process that forked it).
"""

from __future__ import annotations

import atexit
import re
import runpy
import sys
from pathlib import Path


def _report() -> None:
    status = Path("/proc/self/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    print(f"peak-rss-kib {found.group(1) if found else 'nan'}", file=sys.stderr)


if __name__ == "__main__":
    atexit.register(_report)
    sys.argv = sys.argv[1:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
