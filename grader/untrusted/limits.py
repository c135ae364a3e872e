"""A fresh worker's setup, before the student's code: its own session, its output in
a capped file, isolation (``grader.untrusted.isolation``), an environment built
from an allowlist (``ENV_KEEP``) and resource limits (CPU, file size, open files,
processes, address space)."""

from __future__ import annotations

import os
import resource

from grader.untrusted.syscalls import set_pdeathsig


def _limit(kind, value):
    try:
        soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        pass


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def apply_limits(lim: dict) -> dict:
    """Session, output file, isolation (``grader.untrusted.isolation``) and resource limits;
    returns what isolation achieved."""
    os.setsid()
    set_pdeathsig()
    workdir = lim["workdir"]
    os.chdir(workdir)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    out = os.open(os.path.join(workdir, "output.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    vm = _vm_size()
    try:  # when memory runs out, the kernel's OOM killer takes student processes first
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    iso = {"mode": "none"}
    if lim.get("isolate"):
        from grader.untrusted import isolation

        try:
            iso = isolation.isolate(lim)
        except Exception as e:  # a step the machine refused in a way isolate() did not foresee
            iso = {"mode": "none", "reason": f"{type(e).__name__}: {e}"}
        if iso.get("mounts"):
            # the only writable folder: temporary files and caches (torch's too) go there
            import tempfile

            tempfile.tempdir = os.getcwd()
    minimal_environment(os.getcwd())
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_CPU, int(lim.get("cpu_seconds", 300)))
    _limit(resource.RLIMIT_FSIZE, int(lim.get("output_bytes", 4 << 20)))
    _limit(resource.RLIMIT_NOFILE, int(lim.get("open_files", 256)))
    if iso.get("mode") in ("namespaces", "user-namespace") and lim.get("processes"):
        # RLIMIT_NPROC counts this worker's processes and threads only: as root it has a uid of
        # its own; otherwise the count is per user namespace (Linux 5.14 and later)
        _limit(resource.RLIMIT_NPROC, int(lim["processes"]))
    if lim.get("memory_bytes") and not lim.get("cuda"):
        _limit(resource.RLIMIT_AS, vm + int(lim["memory_bytes"]))
    return iso


# What a worker's environment keeps of the grader's (names, and name prefixes ending
# in "_"): locale, time zone, threads and the GPU.  Nothing else crosses: no course
# secret (GRADER_SEED_SECRET), no token, no PYTHONPATH naming the course's folder.
ENV_KEEP = (
    "LANG",
    "LANGUAGE",
    "LC_",
    "TZ",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "NVIDIA_VISIBLE_DEVICES",
    "LD_LIBRARY_PATH",
    "PYTORCH_NVML_BASED_CUDA_CHECK",
    "PYTHONHASHSEED",
    "PYTHONIOENCODING",
)


def _env_kept(name: str) -> bool:
    return any(name == k or (k.endswith("_") and name.startswith(k)) for k in ENV_KEEP)


def minimal_environment(here: str) -> None:
    """Replace the worker's environment by one built from ``ENV_KEEP``."""
    kept = {k: v for k, v in os.environ.items() if _env_kept(k)}
    os.environ.clear()
    os.environ.update(kept)
    os.environ.update(
        HOME=here,
        TMPDIR=here,
        USER="student",
        PATH="/usr/local/bin:/usr/bin:/bin",
        TORCHINDUCTOR_CACHE_DIR=os.path.join(here, ".torch-cache"),
    )
