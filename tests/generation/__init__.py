"""Tests of stages/generation/."""
