"""The boundary's transport: the wire format (both sides) and the grader's side of it (processes, limits, the Student proxy the suites call)."""
