"""Tests of stages/training/."""
