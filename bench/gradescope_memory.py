"""Peak memory of the Gradescope bundle, measured under a real memory cgroup (v1).

    sudo python bench/gradescope_memory.py [LIMIT_MIB ...]     (default: 768 512 448 384 320)

Builds the bundle (`grade autograder`), lays it out as Gradescope does in a temporary root,
puts the model answers (all nine exercises) in submission/, and for each limit runs
`run_autograder` inside a fresh cgroup v1 memory group with that limit (swap included where
the kernel accounts it), pinned to one CPU (taskset).  Prints, per limit: the score in
results.json (90 / 90 is right; a failure to grade says so), the cgroup's own peak
(memory.max_usage_in_bytes: resident memory plus the page cache charged to the group), its
out-of-memory kills, the summed proportional set size (PSS) of the group's processes sampled
every 0.1 s, and the wall time.  Needs root and a cgroup v1 memory hierarchy at
/sys/fs/cgroup/memory (a machine on cgroup v2 only: run it in a v1 container, or read
memory.peak of a v2 group instead).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CGROUP = Path("/sys/fs/cgroup/memory")


def _pss(pids) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


def _oom_kills(cg: Path) -> int:
    for line in (cg / "memory.oom_control").read_text().splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return 0


def measure(limit_mib: int, root: Path) -> dict:
    cg = CGROUP / f"nngrade-bench-{os.getpid()}-{limit_mib}"
    cg.mkdir()
    try:
        (cg / "memory.limit_in_bytes").write_text(str(limit_mib << 20))
        try:
            (cg / "memory.memsw.limit_in_bytes").write_text(str(limit_mib << 20))
        except OSError:
            pass
        results = root / "results" / "results.json"
        if results.exists():
            results.unlink()
        cmd = f"echo $$ > {cg}/cgroup.procs && exec taskset -c 0 bash {root}/source/run_autograder"
        peak_pss, stop = [0], threading.Event()

        def sample():
            while not stop.is_set():
                pids = (cg / "cgroup.procs").read_text().split()
                peak_pss[0] = max(peak_pss[0], _pss(pids))
                time.sleep(0.1)

        t = threading.Thread(target=sample, daemon=True)
        start = time.monotonic()
        t.start()
        env = dict(os.environ, AUTOGRADER_ROOT=str(root))
        r = subprocess.run(["sh", "-c", cmd], cwd=root, env=env, capture_output=True, text=True, timeout=1200)
        wall = time.monotonic() - start
        stop.set()
        t.join()
        doc = json.loads(results.read_text()) if results.exists() else {}
        return {
            "limit_mib": limit_mib,
            "score": doc.get("score"),
            "failed": bool((doc.get("extra_data") or {}).get("grader_failed")),
            "cgroup_peak_mib": int((cg / "memory.max_usage_in_bytes").read_text()) >> 20,
            "pss_peak_mib": peak_pss[0] >> 20,
            "oom_kills": _oom_kills(cg),
            "wall_s": round(wall, 1),
            "exit": r.returncode,
        }
    finally:
        for _ in range(100):
            try:
                cg.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def main(argv) -> int:
    limits = [int(a) for a in argv] or [768, 512, 448, 384, 320]
    if not (CGROUP / "cgroup.procs").exists() or not os.access(CGROUP, os.W_OK):
        print("needs root and a cgroup v1 memory hierarchy at /sys/fs/cgroup/memory", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="nngrade-gsmem-") as d:
        root = Path(d)
        bundle = root / "autograder.zip"
        subprocess.run([sys.executable, "-m", "grader.cli", "autograder", "--out", str(bundle)], cwd=ROOT, check=True)
        with zipfile.ZipFile(bundle) as z:
            z.extractall(root / "source")
        (root / "submission").mkdir()
        for p in sorted((ROOT / "solutions").glob("exercise*.py")):
            (root / "submission" / p.name).write_bytes(p.read_bytes())
        import torch

        print(
            f"torch {torch.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} cores "
            f"(pinned to one), load average {os.getloadavg()[0]:.2f}"
        )
        for limit in limits:
            print(json.dumps(measure(limit, root)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
