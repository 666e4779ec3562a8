"""Pretend students for the grading tests: wrong solutions, other correct ones, broken notebooks."""
