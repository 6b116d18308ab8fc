"""Shared fixtures: the NLU is loaded once per test session (it is read-only after load)."""

from __future__ import annotations

import pytest

import nlu


@pytest.fixture(scope="session", autouse=True)
def _loaded() -> None:
    nlu.load()
