"""Reading a submission: a folder, a zip, one .py holding every exercise, a notebook; the part each exercise is judged on."""
