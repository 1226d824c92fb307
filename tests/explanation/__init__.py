"""Tests of stages/explanation/."""
