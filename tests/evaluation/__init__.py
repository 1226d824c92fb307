"""Tests of stages/evaluation/."""
