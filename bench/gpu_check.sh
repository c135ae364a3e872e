#!/usr/bin/env bash
# Prove the GPU variants on a CUDA machine: install, run the test suite, grade the
# model answers, the stubs and the corpus with CUDA present, one line per check.
#
# Made for a GPU machine that reaches no package registry and has its own Python
# with torch, pytest, pytest-timeout and jinja2 (but not orjson or nbformat).
# Beforehand, on a machine that reaches PyPI, download the other wheels into .whl/
# (git-ignored; carry it with the tree), for the GPU machine's Python version:
#
#   bench/gpu_check.sh download 3.11      # = pip download --only-binary=:all: --dest .whl
#                                         #   --python-version 3.11 --platform manylinux...
#                                         #   orjson nbformat dask[distributed] setuptools wheel
# Then, on the GPU machine, from the repository root:
#
#   bench/gpu_check.sh                    # 10 minutes at most: the grading checks first,
#                                         # then the test suite in the time left
#
# It makes a venv (.gpu-venv/, git-ignored) that sees the machine's own packages
# (torch), installs the project into it with
#   pip install --no-deps --no-index --find-links .whl .
# and prints, after the details, one line per check: PASS, FAIL or SKIP and why.
# Where CUDA is absent it says so plainly, runs everything on the CPU (so that the
# script itself is tested) and reports the GPU checks as SKIP; it exits 0 only if no
# check failed.
#
# Environment: PYTHON (default python3), GPU_CHECK_PYTEST_ARGS (default: the whole
# suite, -q), GPU_CHECK_DEADLINE (seconds for the whole run, default 570).
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

if [ "${1:-}" = "download" ]; then
    pyver=${2:-$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')}
    mkdir -p "$WHL"
    exec "$PY" -m pip download --only-binary=:all: --dest "$WHL" --python-version "$pyver" \
        --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux_2_28_x86_64 \
        orjson nbformat "dask[distributed]" setuptools wheel
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
build_opts=()
if "$VPY" -c 'import setuptools, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 64)' 2>/dev/null; then
    build_opts=(--no-build-isolation)
fi
if "${PIP[@]}" install -q --no-deps --no-index --find-links "$WHL" "${wheels[@]}" \
    && "${PIP[@]}" install -q --no-deps --no-index --find-links "$WHL" "${build_opts[@]}" "$ROOT"; then
    missing=$("$VPY" -c 'import importlib
mods = ["torch", "pytest", "pytest_timeout", "jinja2", "orjson", "nbformat", "distributed", "grader"]
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
# the checks run the tree's code (the same as installed): from the repository root
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
from grader.transport.host import Zygote
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
read -r -a pytest_args <<<"${GPU_CHECK_PYTEST_ARGS:--q}"
echo "== test suite: pytest ${pytest_args[*]}"
t0=$SECONDS
timeout "$(budget 15)" "$VPY" -m pytest -p no:cacheprovider "${pytest_args[@]}" 2>&1 | tee "$WORK/pytest.txt" | tail -n 25
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
