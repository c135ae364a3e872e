"""The two pages at the root of a release (``grade release``): README.md for the students and
INSTRUCTOR.md for the instructor.  Instructor-side text: not part of the student package.

The student README's shell blocks (```sh) are followed, command by command, by a test in a
fresh virtual environment as a non-root user (tests/commands/test_release_readme.py): keep
them commands a student types."""

STUDENT_README = """\
# {title}: your exercises

You build a neural network from its parts: softmax, log-softmax, cross-entropy,
Linear, ReLU, Sequential, SGD, a MatMul autograd Function and a training epoch.
This folder holds:

- `exercises/`: nine files, `exercise1_softmax.py` … `exercise9_epoch.py`. Each
  stub's docstrings teach its task (the formula, the shapes, the traps, the
  built-ins it forbids).
- `course.ipynb`: the same course as one Jupyter notebook.
- `package/`: the student edition of `grade`, which checks your work.

## 1. Install (once)

{python}. In this folder, make a virtual environment, install the
CPU build of PyTorch (smaller and enough for this course), then `grade`:

```sh
python3 -m venv .venv
. .venv/bin/activate
pip install torch --index-url https://download.pytorch.org/whl/cpu
pip install ./package
```

(Windows: `.venv\\Scripts\\activate` instead of the second line.) For the
notebook, also `pip install jupyterlab`.

## 2. Work: in the files or in the notebook

Either edit the files in `exercises/`, or open `course.ipynb` (`jupyter lab
course.ipynb`): write each exercise in its `%%exercise N` cell, run it, then
run the `%grade N` cell below it. Pick one and stay with it: the files and the
notebook are separate copies.

Your code may import only the Python standard library and torch (the course's
list, the same on every machine, whatever else you have installed). Printing
is fine, but past the first megabyte of a run the output is cut (a note says
so); it never costs points.

## 3. Check

In this folder:

```sh
grade exercise1
grade all
grade all --submission course.ipynb
```

`grade exercise3 --watch` checks again each time you save the file. The first
call starts a small background server (about 500 MB of memory, gone after 15
idle minutes) that makes later calls fast: `grade server stop` ends it and
`export GRADER_NO_SERVER=1` in your shell's profile turns it off for good.

## 4. What the check means

This edition runs the **visible** checks: a few tests whose inputs you may
see, with the same hints and "Try it yourself" scripts as the grader. It says
what it ran, for example

    exercise1  Softmax                           3 of 3 visible checks passed
    Total: 3 of 3 visible checks passed; the hidden tests decide the grade

and never a score: the **hidden** tests, run when you submit, decide the grade,
and they check much more (other shapes and dtypes, gradients, devices). Exit
status 0 means every visible check passed, 1 that one failed.

## 5. Hand in

Your instructor says which of these your course uses:

- **Canvas**: upload your nine `exercise*_*.py` files (or `course.ipynb` if you
  worked in the notebook) to the assignment, keeping their names.
- **Gradescope**: upload the same files to the assignment (drag them in, or a
  zip of them); the autograder runs the hidden tests and shows your score.
- **GitHub Classroom**: commit and push your `exercises/` files (or
  `course.ipynb`) to your assignment repository. Each push runs the visible
  checks (the Actions tab); the grade comes from the hidden tests, on your last
  push before the deadline.

Keep the file names exactly: `exercise3_cross_entropy.py`, not `exercise3.py`
or `exercise3_cross_entropy (1).py` (the grader reads each exercise from its
exact name, and tells you when it finds a near miss).
"""

INSTRUCTOR_PAGE = """\
# {title}: for the instructor

This folder is the student edition of the course, built by `grade release`
(grader {version}). It holds no reference, no model answer and no hidden test:
it can be published as it is. `MANIFEST.json` lists every file with its sha256.

## What goes where

- **To students** (a download on Canvas, or the template repository below):
  this whole folder. Its `README.md` tells them how to install, work, check and
  hand in.
- **GitHub Classroom**: push this folder as the assignment's template
  repository. The grade never comes from the students' repositories: the hidden
  tests run from your private course repository (`grade init-ci --help` in your
  instructor checkout, and the course's GitHub Classroom page).
- **Gradescope**: upload the zip that `grade autograder --out autograder.zip`
  builds from your instructor checkout (not this folder).
- **Canvas**: collect the submissions, download them all, and grade them with
  `grade batch SUBMISSIONS --out DIR` from your instructor checkout.

## What students see

`grade` here runs the visible tests only and reports "N of M visible checks
passed; the hidden tests decide the grade", never a score. Student code may
import only the Python standard library and the packages in the course's list
(`grader/verdicts/imports.toml` in your checkout), in every entry point alike.
"""
