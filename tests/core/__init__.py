"""Tests of stages/core/."""
