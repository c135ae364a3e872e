"""What the hidden suites use, gathered from grader.verdicts (one import line for a suite).

Each name lives in the module of its job: inputs (DTYPES, randn, randint, the shapes of a function
along the last dimension ROW_SHAPES, a declaration's inputs normal_values and one_tensor),
tolerances (the presets), diagnosis (misconception catalogue, error-to-hint table), rowwise
(check_rows and its probes), gradcheck, devices (check_follows_device), objects (class_info,
read_values, torch's own class), hints (wording more than one suite gives), declared (a function
exercise's standard tests from a short description: Checks, Case, EditionGradcheck, declare), visible (a visible test's inputs declared as data,
for the test and the student edition).  The student edition ships this file
with grader/verdicts/.
"""

from grader.verdicts.checks import (  # noqa: F401
    Failure,
    assert_close,
    assert_unchanged,
    check,
    describe,
    dtype_str,
    expect_float,
    expect_tensor,
    fmt,
    shape_str,
)
from grader.verdicts.declared import Case, Checks, EditionGradcheck, Property, declare, rows_sum_to_one  # noqa: F401
from grader.verdicts.devices import check_follows_device, devices  # noqa: F401
from grader.verdicts.diagnosis import (  # noqa: F401
    COMMON_ERRORS,
    ErrorHint,
    Misconception,
    Variant,
    call_checked,
    check_call,
    compare,
    hint_for_error,
    join,
    name_bug,
    name_exact,
    naming_errors,
)
from grader.verdicts.gradcheck import gradcheck  # noqa: F401
from grader.verdicts.hints import (  # noqa: F401
    DEVICE_VALUES_FIRST,
    FOLLOW_UPS,
    FORWARD_FIRST,
    NO_KEEPDIM,
    ONLY_2D,
    hard_coded_hint,
    wrong_dim_hint,
)
from grader.verdicts.inputs import DTYPES, ROW_SHAPES, normal_values, one_tensor, randint, randn  # noqa: F401
from grader.verdicts.objects import assert_made_object, assert_not_torch_class, class_info, read_values  # noqa: F401
from grader.verdicts.rowwise import BATCH_SIZES, check_rows, probe, probe_rows, right_on  # noqa: F401
from grader.verdicts.tolerances import *  # noqa: F401,F403
from grader.verdicts.visible import (  # noqa: F401
    DTYPE_PARAMS,
    SeededGenerator,
    VisibleCall,
    VisibleDraw,
    VisibleGradcheck,
    VisibleMatMul,
    VisibleModule,
    VisibleNumber,
    VisibleSequential,
    VisibleStep,
)


def course_reference(suite_file: str):
    """The reference of the exercise whose hidden suite is ``suite_file``, for a course folder's suite
    (``reference = course_reference(__file__)``): the module its course.toml's ``[files] reference``
    names, loaded once, here on the grader's side (a worker never sees it)."""
    import importlib.util
    import sys
    from pathlib import Path

    from grader.course import current
    from grader.exercises import for_suite

    exercise = for_suite(Path(suite_file).name)
    path = current().path("reference", exercise)
    name = f"nngrade_course_reference_{exercise.name}"
    module = sys.modules.get(name)
    if module is None or getattr(module, "__file__", None) != str(path):
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load the reference {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return module
