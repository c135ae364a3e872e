"""How to install torch: the CPU-only wheel first (about 200 MB, what grading needs; the
default wheel on Linux carries CUDA, several GB), the GPU one beside it.  Standard library
only: ``grade release`` and ``grade autograder`` print and write these lines."""

from __future__ import annotations

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_CPU = f"pip install torch --index-url {CPU_INDEX}"
TORCH_GPU = "pip install torch"  # on Linux PyPI's default wheel is the CUDA one
NUMPY = "pip install numpy"  # torch warns at import without it


def student_text(package: str) -> str:
    """The install instructions, as lines of text (CPU first, the GPU alternative beside it)."""
    return (
        f"  {TORCH_CPU}      (CPU-only torch: enough for every exercise)\n"
        f"  pip install {package}      (grade, with numpy and the rest)\n"
        f"  with an NVIDIA GPU, instead of the first line: {TORCH_GPU}  (the CUDA wheel, several GB)\n"
    )
