"""The grader's side of the boundary: the worker processes, their limits, the sessions and the
Student proxy the suites call (the wire itself, both sides of it: ``grader.wire``)."""
