"""The package tests use the host tests' in-process `itb` runner."""

from tests.host.conftest import itb

__all__ = ["itb"]
