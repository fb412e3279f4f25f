"""`make bench`: run every benches/*_bench.py in turn, each printing its own table, and
exit non-zero when any of them misses its target."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    benches = sorted(HERE.glob("*_bench.py"))
    if not benches:
        print("no benches found")
        return 1
    failed = []
    for bench in benches:
        print(f"\n== {bench.stem} ==", flush=True)
        result = subprocess.run([sys.executable, str(bench), *argv], cwd=HERE.parent)
        if result.returncode != 0:
            failed.append(bench.stem)
    print("\n" + ("all benches met their targets" if not failed else f"missed targets: {', '.join(failed)}"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
