"""What the student reads when a call into their code goes wrong: each function here
turns what the worker reported (a plain-data record) or what the grader saw (a time-out,
a dead process, a spent budget) into a ``StudentError`` with a message and a hint.

No process machinery: ``grader.transport.session`` decides *when*, this module *what it says*.
"""

from __future__ import annotations

import signal

from grader.errors import ErrorKind, StudentError
from grader.wire.sizes import MAX_NAME, MAX_TEXT, clip

SIGNALS = {
    signal.SIGXFSZ: (
        "printed more output than the limit allows",
        "Remove the print statements from loops; the grader keeps only the first few MB.",
    ),
    signal.SIGXCPU: (
        "used more CPU time than the limit allows",
        "Look for an endless loop or a much slower algorithm than needed.",
    ),
    signal.SIGSEGV: (
        "crashed with a segmentation fault",
        "This usually comes from a C extension or from torch given inconsistent sizes.",
    ),
    signal.SIGKILL: (
        "was killed (out of memory, or stopped by the grader)",
        "Look for a tensor far larger than the inputs, or an endless loop that allocates.",
    ),
    signal.SIGABRT: ("aborted", None),
}


# Hints for torch's own error messages, the first match wins.
TORCH_ERROR_HINTS = (
    (
        "before Module.__init__() call",
        "Call `super().__init__()` first thing in your module's __init__, before assigning any layer or Parameter.",
    ),
    (
        "a leaf Variable that requires grad is being used in an in-place operation",
        "Don't update tensors that require grad in place outside `with torch.no_grad():` "
        "(and never modify the input in place).",
    ),
    (
        "must match the size of tensor",
        "Two shapes don't broadcast: check keepdim=True and which dimension you reduce over (dim=-1 for the last).",
    ),
    ("Dimension out of range", "Use dim=-1 for the last dimension, whatever the number of dimensions of the input."),
    ("could not be broadcast", "Is a batch size hard-coded? Use x.shape[0] instead of a fixed number."),
    (
        "is out of bounds for dimension",
        "Is a batch size hard-coded (e.g. torch.arange(64))? Use x.shape[0] instead of a fixed number.",
    ),
    (
        "mat1 and mat2 shapes cannot be multiplied",
        "The inner dimensions of a matrix product must agree: check the weight's layout and the transposes.",
    ),
    (
        "File too large",
        "Your code printed more output than the grader keeps (a few MB): remove print() calls from loops.",
    ),
    (
        "Expected all tensors to be on the same device",
        "Create new tensors on the input's device: `torch.zeros_like(x)` or `device=x.device`.",
    ),
    (
        "Boolean value of Tensor with more than one value is ambiguous",
        "A Python `if`, `and`, `or`, `not` or the built-in max()/min() asked a whole tensor for one True/False: "
        "work elementwise instead (a comparison `x > 0` gives a tensor of booleans; combine with torch.where, "
        "clamp or a mask).",
    ),
    (
        "'NoneType' object has no attribute",
        "Something your code uses is None here: an argument that may be None (an optional one such as "
        "`opt=None`) needs `if ... is not None:` before it is used, and a function that forgot its `return` "
        "gives None.",
    ),
    (
        "only integer tensors of a single element can be converted to an index",
        "A float tensor was used as an index: indices must be integer tensors (torch.long), one per row: "
        "x[torch.arange(n), targets].",
    ),
    (
        "tensors used as indices must be",
        "An index tensor must hold integers (torch.long), not floats: index with the targets as given, "
        "x[torch.arange(n), targets], without .float().",
    ),
    (
        "assigned grad expected to be a Tensor or None",
        "p.grad must be a tensor or None: clear a gradient with `p.grad = None` (or `p.grad.zero_()` when it "
        "exists), not with the number 0.",
    ),
    (
        "can't convert",
        "A tensor was turned into a Python or NumPy value (.numpy(), float(), a list): stay in torch "
        "operations on the input's device.",
    ),
    (
        "is not iterable",
        "Your code loops over something that is not a sequence (a Module, a tensor of 0 dimensions, None): check "
        "what the loop iterates over.",
    ),
)


EXIT_HINT = "Don't call exit(), sys.exit() or os._exit() in your code."


def plain_fields(e: dict) -> dict:
    """An error record from the worker with its fields as short strings: names and
    types (an exception's class, a file) at most MAX_NAME characters, the rest at most
    MAX_TEXT (wire keeps every string to that), a line number an int or None."""
    out = {}
    for k, v in e.items():
        if k == "line":
            out[k] = v if type(v) is int else None
        elif k in ("type", "file", "kind"):
            out[k] = clip(str(v), MAX_NAME)
        elif k in ("message", "code", "signature"):
            out[k] = clip(str(v), MAX_TEXT)
        else:
            out[k] = v
    return out


def status_text(status) -> str:
    """How the worker process ended (its exit record), in words."""
    if not status:
        return "it vanished"
    if "signal" in status:
        try:
            sig = signal.Signals(status["signal"])
        except ValueError:
            return f"killed by signal {status['signal']}"
        text = SIGNALS.get(sig, (f"killed by {sig.name}", None))[0]
        return text
    return f"exit status {status.get('exit')}"


def output_note(output: str) -> str:
    return f"\nIt printed:\n{output}" if output else ""


# -- a call ------------------------------------------------------------------------


def call_timed_out(what: str, seconds: float) -> StudentError:
    return StudentError(
        ErrorKind.TIMEOUT,
        f"{what} did not finish within {round(seconds, 2):g} s",  # 0.5 s, 2 s, 3600 s
        "Look for an endless loop, or a Python loop over tensor elements that should be a single tensor operation.",
    )


def call_died(what: str, status, output: str) -> StudentError:
    return StudentError(
        ErrorKind.CRASH,
        f"{what}: your code ended the worker process ({status_text(status)}){output_note(output)}",
        SIGNALS.get(status.get("signal"), (None, None))[1] if status and "signal" in status else EXIT_HINT,
    )


def meta_result(what: str) -> StudentError:
    """A tensor on PyTorch's data-free device, from code given none: no values to judge."""
    return StudentError(
        ErrorKind.RESULT,
        f"{what} returned a tensor on PyTorch's data-free 'meta' device (it holds no values), for inputs on the CPU",
        "Compute the result from the inputs, on their device (torch.zeros_like(x), device=x.device); "
        "a tensor made with device='meta' is never a result here.",
    )


def refused(fatal) -> StudentError:
    return StudentError(ErrorKind.PROTOCOL, f"the worker refused the request: {clip(str(fatal))}")


def malformed_backward() -> StudentError:
    return StudentError(ErrorKind.PROTOCOL, "the worker sent a malformed reply to a backward request")


def undefined_name(file: str, name: str, names) -> StudentError:
    defined = clip(", ".join(sorted(names)), MAX_TEXT) or "nothing"
    return StudentError(
        ErrorKind.EXCEPTION,
        f"{file} defines no `{name}` (it defines: {defined})",
        f"The exercise asks for a name exactly `{name}`; check its spelling and "
        "that it is defined at the top level of the file.",
    )


def raised(e: dict, what: str, file: str, memory_bytes: int, imports_hint=None) -> StudentError:
    """The student's code raised: the worker's record ``e`` of the exception (``imports_hint``:
    what the course lets a student import, in words: the session's rules say it)."""
    e = plain_fields(e)
    etype, emsg = e.get("type", "Exception"), e.get("message", "")
    where = f"\n    at {e['file']}, line {e['line']}: {e.get('code', '')}" if e.get("line") else ""
    if etype == "NotImplementedError" and "NotImplementedError" in e.get("code", "NotImplementedError"):
        # the stub's own `raise NotImplementedError` (torch raises it too, for an op a device lacks)
        return StudentError(
            ErrorKind.NOT_IMPLEMENTED,
            f"{what}: not implemented yet (it raises NotImplementedError){where}",
            f"Replace the `raise NotImplementedError` in {file} with your implementation.",
        )
    hint = None
    if etype == "MemoryError" or "can't allocate memory" in emsg or "out of memory" in emsg:
        hint = (
            f"Your code ran out of memory (the limit is {memory_bytes >> 20} MiB). "
            "Look for a tensor much larger than the inputs, e.g. an accidental outer product."
        )
    elif etype == "TypeError" and ("argument" in emsg or "positional" in emsg):
        sig = e.get("signature")
        hint = "Check the signature the exercise asks for." + (f" Your function's signature is {sig}." if sig else "")
    elif etype == "AssertionError":
        hint = (
            f"Your own `assert`{' (line ' + str(e['line']) + ')' if e.get('line') else ''} rejected the input "
            f"the grader passed to {what}: the exercise's contract allows it (any number of dimensions, any "
            "batch size), so widen or remove the assert rather than the input."
        )
    elif etype == "ModuleNotFoundError":
        hint = _imports_hint(imports_hint)
    elif etype == "SystemExit":
        return StudentError(
            ErrorKind.EXCEPTION,
            f"{what}: your code called exit(){where}",
            "Don't call exit(), sys.exit() or quit() in your functions: return a value.",
        )
    else:
        hint = next((h for needle, h in TORCH_ERROR_HINTS if needle in emsg), None)
    return StudentError(
        ErrorKind.EXCEPTION, f"{what} raised {etype}: {emsg}{where}", hint or unknown_error_hint(etype, what, e)
    )


def unknown_error_hint(etype: str, what: str, e: dict) -> str:
    """The hint for an error no table knows: where it was raised and on which call, never blank."""
    at = f" at {e['file']}, line {e['line']} (`{e.get('code', '').strip()}`)" if e.get("line") else ""
    return (
        f"Your code raised {etype}{at} when the grader called {what}: run that call on "
        f"an input of the same shape and dtype, read the error message, and fix that line."
    )


# -- loading the file ----------------------------------------------------------------


def missing_file(file: str, folder) -> StudentError:
    return StudentError(
        ErrorKind.MISSING_FILE,
        f"{file} is not in the submission folder {folder}",
        f"Save your work as {file} in that folder, or point --submission at the folder that holds it.",
    )


def load_timed_out(file: str, seconds: float) -> StudentError:
    return StudentError(
        ErrorKind.LOAD,
        f"importing {file} took longer than {seconds:.0f} s",
        "Code at the top level of your file runs on import: move experiments into "
        "`if __name__ == '__main__':` and look for an endless loop.",
    )


def load_died(file: str, status, output: str) -> StudentError:
    return StudentError(
        ErrorKind.LOAD,
        f"{file} ended the worker process while it was being imported ({status_text(status)}){output_note(output)}",
        "Don't call exit(), sys.exit() or os._exit() in your file; code at the top level runs on import.",
    )


def load_failed(e: dict, file: str, imports_hint=None) -> StudentError:
    """Importing the file failed: the worker's record ``e`` (encoding, syntax, an exception);
    ``imports_hint`` as for ``raised``."""
    e = plain_fields(e)
    where = f"{e.get('file', file)}, line {e.get('line')}" if e.get("line") else e.get("file", file)
    kind = e.get("kind")
    if kind == "encoding":
        return StudentError(
            ErrorKind.LOAD,
            f"{where}: the file is not UTF-8 text ({e.get('message')})",
            "Save the file as UTF-8 in your editor (most editors offer it in 'Save with encoding').",
        )
    if kind == "syntax":
        code = f"\n    {e['code']}" if e.get("code") else ""
        return StudentError(
            ErrorKind.LOAD,
            f"{where}: {e.get('message')}{code}",
            f"Python cannot read the file. Run `python {file}` to see the error and fix that line.",
        )
    msg = f"importing {file} raised {e.get('type')}: {e.get('message')}"
    if e.get("line"):
        msg += f"\n    at {where}: {e.get('code', '')}"
    hint = "The code at the top level of your file runs when it is imported; it raised before any test could run."
    text = str(e.get("message", ""))
    if e.get("type") in ("ModuleNotFoundError", "ImportError") and "exercise" in text:
        hint = (
            "Each exercise is graded on its own: don't import your other exercise files; "
            "use torch's built-ins (torch.nn.Linear, ...) where you need another part."
        )
    elif e.get("type") in ("ModuleNotFoundError", "ImportError"):
        hint = _imports_hint(imports_hint)
    elif e.get("type") == "SystemExit":
        msg = f"{file} called exit() while being imported"
        hint = "Don't call exit(), sys.exit() or quit() in your file."
    return StudentError(ErrorKind.LOAD, msg, hint)


# -- budgets -------------------------------------------------------------------------


def too_many_timeouts(n: int) -> StudentError:
    return StudentError(
        ErrorKind.BUDGET,
        f"not run: your code already timed out {n} times in this exercise",
        "Find the endless (or very slow) loop first; once it ends, these checks run again.",
    )


def data_budget_spent(limits) -> StudentError:
    return StudentError(
        ErrorKind.BUDGET,
        f"not run: the results of this submission's code used up its data budget "
        f"({limits.submission_bytes >> 20} MiB for all exercises, then "
        f"{limits.late_bytes >> 20} MiB for each exercise)",
        "Return results of the size the exercise asks for, not far larger tensors.",
    )


def time_budget_spent(what: str, limits, by_submission) -> StudentError:
    """``by_submission``: which of the submission's budgets is spent ("wall" or "cpu"), or None."""
    if by_submission == "cpu":
        return StudentError(
            ErrorKind.BUDGET,
            f"{what}: this submission used up its CPU budget ({limits.submission_cpu:g} s of "
            f"CPU time for all exercises, then {limits.late_cpu:g} s for each exercise)",
            "Your code computes far more than needed somewhere (correct code takes well under a second of CPU "
            "time for all exercises): look for endless loops, Python loops over tensor elements, and results "
            "far larger than the exercise asks for.",
        )
    if by_submission:
        return StudentError(
            ErrorKind.BUDGET,
            f"{what}: this submission used up its time budget ({limits.submission_budget:g} s "
            f"for all exercises, then {limits.late_budget:g} s for each exercise)",
            "Your code is much slower than needed somewhere (or waits on purpose); correct code takes well "
            "under a second per exercise. Look for endless loops and Python loops over tensor elements.",
        )
    return StudentError(
        ErrorKind.BUDGET,
        f"{what}: this exercise used up its time budget ({limits.exercise_budget:.0f} s)",
        "Your code is much slower than needed; look for Python loops over tensor elements.",
    )


def _imports_hint(imports_hint) -> str:
    """What a student may import, in words: from the session's rules (``imports_hint``, a
    callable: the course's list is read only when a hint needs it), else said in general."""
    if imports_hint is not None:
        return imports_hint()
    return (
        "Your code may import only the Python standard library and the modules the course allows "
        "(torch); remove the import of any other module."
    )
