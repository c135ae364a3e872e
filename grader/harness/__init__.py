"""The pytest glue: one pytest session runs the hidden suites; fixtures, records, points."""
