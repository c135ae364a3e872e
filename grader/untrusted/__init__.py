"""The untrusted side: what a worker process imports (the standard library, torch, the wire). Nothing here may import the verdicts, the pytest glue, the suites or the reference."""
