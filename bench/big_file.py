"""Validating big pins files: one model with 5k to 20k aliases, and a file at the 4 MiB cap.

    .venv/bin/python bench/big_file.py

Each figure is a fresh `modelpins --pins FILE validate --offline` process (through bench/rss.py
for its peak RSS), so wall time includes start-up (~0.3 s). The naive way is the alias-case
check as it was: a lower-case map of the aliases so far, rebuilt for every alias (quadratic),
timed alone in this process on the same names. `--pins /dev/zero` shows the cap applied while
reading: refused with exit 2 after reading 4 MiB + 1 byte.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine, run_measured

CAP = 4 * 1024 * 1024


def pins_text(aliases: int) -> str:
    lines = ["version: 1", "models:", "  big-model:", "    aliases:"]
    lines += [f"      a{n}: 1" for n in range(aliases)]
    return "\n".join(lines) + "\n"


def at_cap() -> tuple[str, int]:
    """The most aliases that fit in 4 MiB, and the file."""
    low, high = 1, CAP // 10
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if len(pins_text(mid)) <= CAP else (low, mid - 1)
    return pins_text(low), low


def naive_case_check(names: list[str]) -> float:
    start = time.perf_counter()
    seen: list[str] = []
    for name in names:
        lowered = {a.lower(): a for a in seen}
        if name.lower() not in lowered:
            seen.append(name)
    return time.perf_counter() - start


def validate(path: str) -> dict[str, object]:
    argv = [sys.executable, str(ROOT / "bench" / "rss.py"), "modelpins", "--pins", path, "validate", "--offline"]
    return run_measured(argv, cwd=ROOT)


def main() -> None:
    print(machine())
    print("| file | aliases | bytes | modelpins validate s | exit | peak RSS MiB | naive case check s | naive / mp |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        cases = [(pins_text(n), n) for n in (5_000, 10_000, 20_000)] + [at_cap()]
        for text, count in cases:
            path = Path(tmp) / f"pins-{count}.yaml"
            path.write_text(text)
            got = validate(str(path))
            naive = naive_case_check([f"a{n}" for n in range(count)]) if count <= 20_000 else float("nan")
            label = "at the 4 MiB cap" if count > 20_000 else "one model"
            ratio = f"{naive / got['wall']:.1f}x" if naive == naive else "(quadratic: not run)"  # type: ignore[operator]
            print(
                f"| {label} | {count:,} | {len(text):,} | {got['wall']:.2f} | {got['code']} | {got['rss']:.0f} | "
                f"{naive:.2f} | {ratio} |"
            )
    zero = validate("/dev/zero")
    print(f"| /dev/zero | - | (endless) | {zero['wall']:.2f} | {zero['code']} | {zero['rss']:.0f} | - | - |")
    print("stderr for /dev/zero:", str(zero["err"]).strip().splitlines()[:2])


if __name__ == "__main__":
    main()
