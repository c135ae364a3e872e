"""The commands beside `grade`'s own grading: the warm server, --watch, grade release."""
