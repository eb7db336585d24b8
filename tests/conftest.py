"""Shared fixtures: real writer processes, never mocks of h5py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import swmr_writer  # noqa: E402
from writers import ScriptedWriter, StreamWriter, _spawn, stopped_at_exit  # noqa: E402, F401


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run long tests (soak)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long test: pass --run-slow to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def writer_factory(tmp_path: Path) -> Iterator:
    """Start scripted writers on files in ``tmp_path``; all are stopped at teardown."""

    def make(name: str = "scan.h5", *args: str) -> ScriptedWriter:
        return ScriptedWriter(tmp_path / name, *args)

    with stopped_at_exit(make) as start:
        yield start


@pytest.fixture
def writer(writer_factory) -> ScriptedWriter:
    """A SWMR writer in another process on ``tmp_path / 'scan.h5'``."""
    return writer_factory()


@pytest.fixture
def values():
    """The writer's value function."""
    return swmr_writer.value


@pytest.fixture
def stream_factory(tmp_path: Path) -> Iterator:
    """Start free-running writers (``stream_writer.py``); all are stopped at teardown."""

    def make(name: str | Path = "stream.h5", *args: str) -> StreamWriter:
        """`name` is a file name in ``tmp_path``, or a :class:`~pathlib.Path`."""
        return StreamWriter(name if isinstance(name, Path) else tmp_path / name, *args)

    with stopped_at_exit(make) as start:
        yield start


@pytest.fixture
def views() -> Iterator:
    """Make :class:`~swmr_widgets.SwmrView` objects that do not start by themselves.

    Pass ``autostart=True`` to override; every view made is closed at teardown.
    """
    from swmr_widgets import SwmrView

    made: list[SwmrView] = []

    def make(*args, **kwargs) -> SwmrView:
        kwargs.setdefault("autostart", False)
        view = SwmrView(*args, **kwargs)
        made.append(view)
        return view

    yield make
    for view in made:
        view.close()
