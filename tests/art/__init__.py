"""Tests of the art package."""
