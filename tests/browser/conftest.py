"""Browser tests: JupyterLab in Debian's Chromium, driven by Playwright.

Chromium is never downloaded (``playwright install`` does not work on the course machines):
Playwright launches CHROMIUM_PATH, else /usr/lib/chromium/chromium. Without it these tests
are skipped with one line saying how to enable them; under CI=true they must run, so a
missing Chromium fails the run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from lab import Lab, chromium_path  # noqa: E402

HOW = "apt-get install -y chromium (Debian), or set CHROMIUM_PATH to a Chromium binary"


def pytest_collection_modifyitems(config, items):
    browser_items = [i for i in items if "tests/browser" in str(i.fspath).replace(os.sep, "/")]
    if not browser_items or chromium_path() is not None:
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(f"CI=true but no Chromium for the browser tests: {HOW}")
    skip = pytest.mark.skip(reason=f"browser tests need Chromium: {HOW}")
    for item in browser_items:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": chromium_path()}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="session")
def lab():
    with Lab() as server:
        yield server


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path
