#!/usr/bin/env bash
# Prove the GPU variants on a CUDA machine: install, run the test suite, grade the
# model answers, the stubs and the corpus with CUDA present, one line per check.
#
# Made for a GPU machine that reaches no package registry and has its own Python
# with torch, pytest, pytest-timeout and jinja2 (but not orjson or nbformat).
# Beforehand, on a machine that reaches PyPI, download the other wheels into .whl/
# (git-ignored; carry it with the tree), for the GPU machine's Python version:
#
#   bench/gpu_check.sh download 3.12      # = pip download --only-binary=:all: --python-version 3.12
#                                         #   --platform manylinux... orjson nbformat dask[distributed]
#                                         #   xmlschema pyyaml nbclient ipykernel (the dev extra), then
#                                         #   drops the wheels of what the machine has (ON_MACHINE below)
# Then, on the GPU machine, from the repository root:
#
#   bench/gpu_check.sh                    # 10 minutes at most: the grading checks first,
#                                         # then the test suite in the time left
#
# It makes a venv (.gpu-venv/, git-ignored) that sees the machine's own packages
# (torch; where the machine's python3 is itself a venv, a .pth file adds that venv's
# site-packages, which --system-site-packages alone would miss), installs the project with
#   pip install --no-deps --no-index --find-links .whl .
# and prints, after the details, one line per check: PASS, FAIL or SKIP and why.
# Where CUDA is absent it says so plainly, runs everything on the CPU (so that the
# script itself is tested) and reports the GPU checks as SKIP; it exits 0 only if no
# check failed.
#
# Environment: PYTHON (default python3), GPU_CHECK_PYTEST_ARGS (default: the whole
# suite, "-q -n 8 --dist loadfile" where pytest-xdist is there, else "-q"),
# GPU_CHECK_DEADLINE (seconds for the whole run, default 570).
#
# The tests that make venvs of their own (test_install, test_release) run
# `python -m venv --system-site-packages` from .gpu-venv: such a venv sees only the
# base interpreter's site-packages. For the test suite only, where the machine's
# python3 is a venv, a file nngrade-gpu-check.pth in the base interpreter's
# site-packages (where writable) lists .gpu-venv's and the machine venv's
# site-packages; it is removed when the script ends (GPU_CHECK_BASE_PTH=0: not made).
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
PY=${PYTHON:-python3}
WHL=$ROOT/.whl
VENV=$ROOT/.gpu-venv
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
START=$SECONDS
DEADLINE=${GPU_CHECK_DEADLINE:-570}
RESULTS=()
FAILED=0

# what the GPU machine's python3 already has (the device notes' package list), of what
# the download pulls in: their wheels are dropped (a second version would shadow the
# machine's); torch, numpy and the like are never downloaded at all
ON_MACHINE="attrs click cloudpickle fsspec jinja2 markupsafe msgpack packaging psutil pygments
python-dateutil pyyaml sortedcontainers toolz typing-extensions zipp setuptools wheel pip numpy
pytest pytest-timeout pluggy iniconfig six certifi urllib3 requests idna charset-normalizer"
if [ "${1:-}" = "download" ]; then
    pyver=${2:-$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')}
    if compgen -G "$WHL/*.whl" >/dev/null; then
        echo "$WHL already holds wheels: remove it first (two versions of one package stop the install)" >&2
        exit 2
    fi
    mkdir -p "$WHL"
    # pyproject's dependencies less torch, torchvision, pytest, pytest-timeout and jinja2
    # (the machine has them), and its dev extra (the tests' own needs)
    "$PY" -m pip download --only-binary=:all: --dest "$WHL" --python-version "$pyver" \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
        "orjson>=3.9" "nbformat>=5.9" "dask[distributed]>=2024.1" "xmlschema>=3.0" "pyyaml>=6.0" \
        "nbclient>=0.7" "ipykernel>=6" || exit 1
    for f in "$WHL"/*.whl; do
        name=$(basename "$f" | cut -d- -f1 | tr '[:upper:]_.' '[:lower:]--')
        for m in $ON_MACHINE; do
            if [ "$name" = "$m" ]; then rm -f "$f"; echo "dropped $(basename "$f") (on the machine)"; fi
        done
    done
    echo "$(find "$WHL" -maxdepth 1 -type f -name '*.whl' | wc -l) wheels, $(du -sh "$WHL" | cut -f1), in $WHL"
    exit 0
fi

check() {  # check NAME STATUS DETAIL
    RESULTS+=("$(printf '%-4s  %-34s %s' "$2" "$1" "$3")")
    if [ "$2" = "FAIL" ]; then FAILED=1; fi
}

budget() {  # budget N: seconds left before the deadline, less N (at least 30)
    local b=$((DEADLINE - (SECONDS - START) - $1))
    echo $((b < 30 ? 30 : b))
}

finish() {
    echo
    echo "== gpu_check: $(date -u '+%Y-%m-%d %H:%M UTC'), $(hostname), $((SECONDS - START)) s =="
    for line in "${RESULTS[@]}"; do echo "$line"; done
    exit "$FAILED"
}

# --- the machine ----------------------------------------------------------------
if ! "$PY" -c 'import torch' 2>/dev/null; then
    check "python with torch" FAIL "$PY cannot import torch"
    finish
fi
CUDA_INFO=$("$PY" -c 'import torch
if torch.cuda.is_available():
    print("yes", torch.cuda.get_device_name(0).replace(" ", "_"), torch.version.cuda, torch.__version__)
else:
    print("no", "-", torch.version.cuda, torch.__version__)')
read -r HAS_CUDA GPU_NAME CUDA_VER TORCH_VER <<<"$CUDA_INFO"
if [ "$HAS_CUDA" = "yes" ]; then
    check "CUDA" PASS "${GPU_NAME//_/ }, CUDA $CUDA_VER, torch $TORCH_VER"
else
    check "CUDA" SKIP "NO CUDA ON THIS MACHINE (torch $TORCH_VER, CUDA build: $CUDA_VER): everything below ran on the CPU; the GPU checks prove nothing here"
fi

# --- install ----------------------------------------------------------------------
echo "== install into $VENV (no index; wheels from $WHL)"
if [ ! -x "$VENV/bin/python" ]; then
    # without ensurepip (Debian's python3 minus python3-venv) the venv gets no pip of its own
    "$PY" -m venv --system-site-packages "$VENV" || "$PY" -m venv --system-site-packages --without-pip "$VENV" \
        || { check install FAIL "python -m venv failed"; finish; }
fi
VPY=$VENV/bin/python
# Where $PY is itself a venv (the GPU machine's /opt/torch/.venv), --system-site-packages
# shows the new venv the BASE interpreter's site-packages, not $PY's (torch): a .pth
# file in the new venv adds $PY's own site-packages, after the venv's own (so the wheels
# installed here come first) and before the base's.
VSITE=$("$VPY" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
"$PY" - "$VSITE/_gpu_check_parent.pth" <<'EOF'
import site, sys
if sys.prefix != sys.base_prefix:
    with open(sys.argv[1], "w") as f:
        f.writelines(f"import site; site.addsitedir({d!r})\n" for d in site.getsitepackages())
    print(f"{sys.executable} is a venv: {sys.argv[1]} adds {' '.join(site.getsitepackages())}")
EOF
if ! "$VPY" -c 'import torch' 2>/dev/null; then
    check install FAIL "$VPY (the venv made from $PY) cannot import torch"
    finish
fi
if "$VPY" -m pip --version >/dev/null 2>&1; then
    PIP=("$VPY" -m pip)
else
    PIP=("$PY" -m pip --python "$VPY")  # pip >= 22.3 installs into another environment
fi
wheels=("$WHL"/*.whl)
if [ ! -e "${wheels[0]}" ]; then
    check install FAIL "no wheels in $WHL: run 'bench/gpu_check.sh download PYTHON_VERSION' where PyPI is reachable"
    finish
fi
# the project is built by the setuptools the venv sees (no index: no isolated build) where
# that one builds wheels by itself (>= 70.1, as pyproject asks) or has `wheel` beside it;
# a venv made by Python <= 3.11 holds an older setuptools of its own: carry a newer one
build_opts=()
setuptools_ok() {
    "$VPY" -c 'import sys, setuptools
v = tuple(int(x) for x in setuptools.__version__.split(".")[:2])
try:
    import wheel
except ImportError:
    wheel = None
sys.exit(not (v >= (70, 1) or (v >= (64, 0) and wheel)))' 2>/dev/null
}
if "${PIP[@]}" install -q --no-deps --no-index --find-links "$WHL" "${wheels[@]}" \
    && { if setuptools_ok; then build_opts=(--no-build-isolation); fi; true; } \
    && "${PIP[@]}" install -q --no-deps --no-index --find-links "$WHL" "${build_opts[@]}" "$ROOT"; then
    missing=$("$VPY" -c 'import importlib
mods = ["torch", "pytest", "pytest_timeout", "jinja2", "orjson", "nbformat", "distributed", "grader",
        "xmlschema", "yaml", "nbclient", "ipykernel"]  # the last four: for the tests (the dev extra)
print(" ".join(m for m in mods if importlib.util.find_spec(m) is None))')
    if [ -z "$missing" ]; then
        check install PASS "${#wheels[@]} wheels and nngrade $("$VPY" -c 'import grader; print(grader.__version__)') into $VENV"
    else
        check install FAIL "still missing: $missing"
        finish
    fi
else
    check install FAIL "pip install --no-deps --no-index --find-links .whl failed (see above)"
    finish
fi
# the carried wheels' own requirements, met by the machine's versions? (pip check sees the
# machine's packages too: only lines about what was installed from .whl count)
carried=$(for f in "${wheels[@]}"; do basename "$f" | cut -d- -f1 | tr '[:upper:]_.' '[:lower:]--'; done)
conflicts=$("${PIP[@]}" check 2>&1 | while read -r first rest; do
    n=$(echo "$first" | tr '[:upper:]_.' '[:lower:]--')
    if grep -qx -- "$n" <<<"$carried"$'\nnngrade'; then echo "$first $rest"; fi
done)
if [ -z "$conflicts" ]; then
    check "wheels' requirements (pip check)" PASS "every requirement of the carried wheels and nngrade is met"
else
    echo "$conflicts"
    check "wheels' requirements (pip check)" FAIL "$(echo "$conflicts" | head -n 3 | tr '\n' ';')"
fi
# the checks run the tree's code (the same as installed): from the repository root
CALLER_PYTHONPATH=${PYTHONPATH-}
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}

# --- the model answers and the stubs, with CUDA ---------------------------------------
grade_json() {  # grade_json FOLDER OUT.json [env...]: `grade all` as JSON
    local folder=$1 out=$2
    shift 2
    env "$@" "$VPY" -m grader.cli all --submission "$folder" --format json --output "$out" >/dev/null 2>"$out.err"
}
t0=$SECONDS
grade_json solutions "$WORK/solutions.json"
line=$("$VPY" - "$WORK/solutions.json" "$HAS_CUDA" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
tests = [t for ex in r["exercises"] for t in ex["tests"]]
gpu = [t for t in tests if "cuda" in t["name"]]
ran = [t for t in gpu if t["status"] != "skipped"]
bad = [t["name"] for t in ran if t["status"] != "passed"]
full = r["score"] >= r["max_score"]
ok = full and (not r["cuda"] or (ran and not bad)) and (r["cuda"] == (sys.argv[2] == "yes"))
if r["cuda"]:
    what = f"{len(ran)} CUDA tests ran, {len(ran) - len(bad)} passed" + (f" (failed: {', '.join(bad[:5])})" if bad else "")
else:
    what = f"report[\"cuda\"] false: {len(gpu)} CUDA tests skipped, not counted"
print(("PASS" if ok else "FAIL") + f"\t{r['score']:.2f} / {r['max_score']}; {what}")
EOF
)
check "model answers (grade all)" "${line%%$'\t'*}" "${line#*$'\t'} ($((SECONDS - t0)) s)"
if [ "$HAS_CUDA" = "yes" ] && [ "${line%%$'\t'*}" = "PASS" ]; then
    check "GPU variants counted and passing" PASS "${line#*$'\t'}"
elif [ "$HAS_CUDA" = "yes" ]; then
    check "GPU variants counted and passing" FAIL "${line#*$'\t'}"
else
    check "GPU variants counted and passing" SKIP "no CUDA here"
fi

t0=$SECONDS
grade_json exercises "$WORK/stubs.json"
line=$("$VPY" - "$WORK/stubs.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
internal = [ex["name"] for ex in r["exercises"]
            if ex["status"] == "error" or any(t.get("kind") == "internal" for t in ex["tests"])]
ok = r["score"] == 0 and not internal
print(("PASS" if ok else "FAIL") + f"\t{r['score']:.2f} / {r['max_score']}, cuda={str(r['cuda']).lower()}"
      + (f"; internal errors in {', '.join(internal)}" if internal else "; no internal error"))
EOF
)
check "stubs (grade all)" "${line%%$'\t'*}" "${line#*$'\t'} ($((SECONDS - t0)) s)"

# --- the corpus: the same verdict with CUDA as on the CPU -------------------------------
# Each corpus file becomes a student (exerciseN--name/ holding that exercise's file), and
# the whole corpus is graded by `grade batch` twice: with CUDA, and with CUDA hidden.
"$VPY" - "$ROOT/tests/corpus" "$WORK/class" <<'EOF'
import shutil, sys
from pathlib import Path
from grader.exercises import lookup
corpus, cls = Path(sys.argv[1]), Path(sys.argv[2])
for f in sorted(corpus.glob("exercise*/*.py")):
    d = cls / f"{f.parent.name}--{f.stem}"
    d.mkdir(parents=True)
    shutil.copyfile(f, d / lookup(f.parent.name).file)
EOF
n_variants=$(find "$WORK/class" -mindepth 1 -maxdepth 1 | wc -l)
t0=$SECONDS
CI=true timeout "$(budget 300)" "$VPY" -m grader.cli batch "$WORK/class" --out "$WORK/gpu" --seed-secret gpu-check \
    >/dev/null 2>"$WORK/batch-gpu.txt"
t_gpu=$((SECONDS - t0))
t0=$SECONDS
CI=true CUDA_VISIBLE_DEVICES="" timeout "$(budget 240)" "$VPY" -m grader.cli batch "$WORK/class" --out "$WORK/cpu" \
    --seed-secret gpu-check >/dev/null 2>"$WORK/batch-cpu.txt"
t_cpu=$((SECONDS - t0))
line=$("$VPY" - "$ROOT/tests/corpus" "$WORK/gpu" "$WORK/cpu" "$HAS_CUDA" <<'EOF'
import json, re, sys
from pathlib import Path
corpus, gpu, cpu, has_cuda = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4] == "yes"

def verdict(out, f):
    """full marks / loses points and names the mistake (the corpus's own criteria),
    and which of the CPU tests failed."""
    p = out / "reports" / f"{f.parent.name}--{f.stem}.json"
    if not p.exists():
        return "not graded", False
    r = json.loads(p.read_text())
    (ex,) = [e for e in r["exercises"] if e["name"] == f.parent.name]
    lost = [t for t in ex["tests"] if t["status"] not in ("passed", "skipped")]
    cpu_lost = sorted(t["name"] for t in lost if "cuda" not in t["name"])
    if f.stem.startswith("ok_"):
        v = "full marks" if ex["score"] >= ex["max_score"] else "LOSES POINTS"
    else:
        pattern = re.compile(re.match(r"#\s*hint:\s*(.+)", f.read_text().splitlines()[0]).group(1), re.I)
        said = [t["hint"] or t["message"] for t in lost] + [ex["hint"]]
        named = any(pattern.search(s or "") for s in said)
        v = ("loses points, mistake named" if named else "loses points, NOT NAMED") if lost else "FULL MARKS"
    return f"{v}; CPU tests failed: {cpu_lost}", r["cuda"]

files = sorted(corpus.glob("exercise*/*.py"))
diff, wrong, cuda_flags = [], [], set()
for f in files:
    (g, gc), (c, cc) = verdict(gpu, f), verdict(cpu, f)
    cuda_flags.add(gc)
    if g != c:
        diff.append(f"{f.parent.name}/{f.name}: cuda: {g} | cpu: {c}")
    if any(w in g for w in ("NOT NAMED", "LOSES", "FULL MARKS", "not graded")):
        wrong.append(f"{f.parent.name}/{f.name}: {g}")
for d in diff + wrong:
    print(d, file=sys.stderr)
ok = not diff and not wrong and cuda_flags == {has_cuda}
print(("PASS" if ok else "FAIL") + f"\t{len(files) - len(diff)} of {len(files)} variants: the same verdict with "
      f"CUDA {'present' if has_cuda else 'absent (both runs on the CPU)'} as with CUDA hidden"
      + (f"; {len(wrong)} not as the corpus expects" if wrong else ""))
EOF
)
check "corpus verdicts, CUDA vs CPU" "${line%%$'\t'*}" "${line#*$'\t'} ($n_variants variants; batch: ${t_gpu} s with CUDA, ${t_cpu} s without)"

# --- time per exercise --------------------------------------------------------------
"$VPY" - "$ROOT/solutions" "$HAS_CUDA" <<'EOF' >"$WORK/times.txt" 2>"$WORK/times.err"
import sys, time
from pathlib import Path
from grader.exercises import EXERCISES
from grader.harness.run import grade
from grader.transport.processes import Zygote
where = "on the GPU" if sys.argv[2] == "yes" else "on the CPU (no CUDA)"
with Zygote(preload=True) as z:
    grade(EXERCISES[:1], Path(sys.argv[1]), zygote=z)  # warm-up
    parts = []
    for ex in EXERCISES:
        t = time.perf_counter()
        r = grade([ex], Path(sys.argv[1]), zygote=z)
        n = sum(1 for t_ in r["exercises"][0]["tests"] if "cuda" in t_["name"] and t_["status"] != "skipped")
        parts.append(f"{ex.name} {time.perf_counter() - t:.2f} s ({n} cuda)")
print(f"warm, model answers, {where}: " + ", ".join(parts))
EOF
if [ -s "$WORK/times.txt" ]; then
    check "time per exercise" INFO "$(cat "$WORK/times.txt")"
else
    check "time per exercise" FAIL "$(tail -n 3 "$WORK/times.err" | tr '\n' ' ')"
fi
# --- the test suite (last: it gets what is left of the 10 minutes) ---------------------
# 16 cores: 8 pytest-xdist workers where it is there; --dist loadfile keeps a module's
# tests on one worker, so its module-scoped fixtures (the venvs of test_install and
# test_release, the release, the notebook kernel) are built once, not once per worker
if "$VPY" -c 'import xdist' 2>/dev/null; then default_args="-q -n 8 --dist loadfile"; else default_args="-q"; fi
read -r -a pytest_args <<<"${GPU_CHECK_PYTEST_ARGS:-$default_args}"
# tests that make a venv with --system-site-packages from $VPY get the base interpreter's
# site-packages only: where $PY is a venv, a .pth there shows them .gpu-venv's and $PY's
BASE_PTH=$("$PY" - "$VSITE" "${GPU_CHECK_BASE_PTH:-1}" <<'EOF'
import os, site, subprocess, sys
if sys.prefix != sys.base_prefix and sys.argv[2] != "0":
    base = getattr(sys, "_base_executable", None) or os.path.join(sys.base_prefix, "bin", "python3")
    dirs = subprocess.run([base, "-I", "-c", "import site; print(*site.getsitepackages(), sep=chr(10))"],
                          capture_output=True, text=True).stdout.split("\n")
    for d in filter(None, dirs):
        if os.path.isdir(d) and os.access(d, os.W_OK):
            pth = os.path.join(d, "nngrade-gpu-check.pth")
            if not os.path.exists(pth):
                with open(pth, "w") as f:
                    f.writelines(f"import site; site.addsitedir({p!r})\n" for p in [sys.argv[1], *site.getsitepackages()])
                print(pth)
            break
EOF
)
if [ -n "$BASE_PTH" ]; then
    trap 'rm -rf "$WORK"; rm -f "$BASE_PTH"' EXIT
    echo "== $BASE_PTH (removed at the end) shows venvs made by the tests this venv's packages"
fi
echo "== test suite: pytest ${pytest_args[*]}"
t0=$SECONDS
# without the PYTHONPATH set above: the tests find this tree's grader from the root
# themselves, and a venv made by a test must import its own installed grader
PYTHONPATH=$CALLER_PYTHONPATH timeout --kill-after=10 "$(budget 15)" "$VPY" -m pytest -p no:cacheprovider "${pytest_args[@]}" 2>&1 | tee "$WORK/pytest.txt" | tail -n 25
rc=${PIPESTATUS[0]}
summary=$(grep -E '[0-9]+ (passed|failed|error)' "$WORK/pytest.txt" | tail -n 1 | tr -d '=' | xargs)
if [ "$rc" = 0 ]; then
    check "test suite" PASS "$summary ($((SECONDS - t0)) s)"
elif [ "$rc" = 124 ]; then
    check "test suite" FAIL "stopped after $((SECONDS - t0)) s to keep the 10-minute limit: $summary"
else
    check "test suite" FAIL "$summary ($((SECONDS - t0)) s, exit $rc)"
fi

if [ $((SECONDS - START)) -ge 600 ]; then
    check "under 10 minutes" FAIL "took $((SECONDS - START)) s"
else
    check "under 10 minutes" PASS "$((SECONDS - START)) s"
fi
finish
