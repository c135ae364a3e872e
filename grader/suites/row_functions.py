"""What the suites of exercises 1 and 2 (softmax, log_softmax) share: the common part of their declaration."""

from grader.suites.common import ROW_SHAPES, Checks, normal_values


def row_function(fn: str, reference, *, sizes: dict, **options) -> Checks:
    """The Checks of the built-in ``fn``, a function along the last dimension of its one tensor:
    compared through check_rows (``rows``) with ``reference`` on normal values × 3 of every shape of
    ROW_SHAPES, in each dtype and on every device; the input left unchanged (a (5, 8) input),
    gradcheck (its shape in ``sizes``) and the input's device (a (4, 6) input).  ``options`` are the
    exercise's own: its catalogue, hints, cases, visible test, points, ..."""
    return Checks(
        fn=fn,
        reference=reference,
        inputs=normal_values(3.0),
        shapes=ROW_SHAPES,
        rows=True,
        unchanged=True,
        gradients=True,
        devices=True,
        sizes={"input_not_modified": (5, 8), "follows_input_device": (4, 6), **sizes},
        descriptions={
            "matches_reference": f"{fn}(x) matches the reference on random inputs of several shapes",
            "input_not_modified": f"{fn} gives the right result and leaves its input unchanged",
        },
        **options,
    )
