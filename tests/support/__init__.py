"""Helpers shared by the test suites and the drill: nothing here is a test itself."""
