"""Tests of stages/tools/."""
