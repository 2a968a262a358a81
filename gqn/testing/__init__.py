"""Helpers for testing the project (and code built on it), shipped with the package."""
