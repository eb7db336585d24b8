"""The options of the demo acquisition, in one frozen dataclass.

:class:`DemoConfig` is the single description of what the simulated writer can
be asked to do. The command line of ``python -m swmr_widgets.demo`` is generated
from its fields (:meth:`DemoConfig.add_arguments`, :meth:`DemoConfig.from_args`),
the writer process runs from one, and :class:`~swmr_widgets.demo.DemoWriter`
turns one back into the child's command line (:meth:`DemoConfig.to_argv`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["MAX_FPS", "DemoConfig", "positive_float"]

#: Camera frames per second written at most by default (frames are the bulk of the file).
MAX_FPS = 5.0


def positive_float(text: str | float) -> float:
    """Argument type of command-line options that take a positive number."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _non_negative(text: str | float) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _count(text: str | int) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _option(default: Any, convert: Callable[[Any], Any] | None, help: str) -> Any:
    """A :class:`DemoConfig` field: its default, its converter and its ``--help`` text."""
    return field(default=default, metadata={"convert": convert, "help": help})


@dataclass(frozen=True)
class DemoConfig:
    """What the simulated acquisition writes, and how fast.

    Values are converted and checked on creation (strings are accepted, as
    from a command line); an invalid one raises ``ValueError``.

    Attributes
    ----------
    rate : float
        Steps per second.
    duration : float or None
        Seconds to run; ``None`` runs until stopped.
    rows_per_step : int
        Rows appended to each 0-D channel per step.
    scan_points : int
        Points of the pre-allocated scan (0: no scan arrays).
    frame_every : int
        Write a camera frame every this many steps; 0 (or ``None``) writes at
        most :data:`MAX_FPS` frames per second.
    seed : int
        Seed of the simulated signals (see :func:`~swmr_widgets.demo.trend_value`).
    swmr_delay : float
        Seconds the file is held open *without* SWMR before SWMR starts; readers
        are locked out meanwhile, as with PyMoDAQ before the first scan point.
    swmr : bool
        ``False`` never switches SWMR on (to test readers' error handling).
    """

    rate: float = _option(10.0, positive_float, "steps per second (default: 10)")
    duration: float | None = _option(None, _non_negative, "seconds to run (default: until stopped)")
    rows_per_step: int = _option(1, _count, "rows appended to 0-D channels per step")
    scan_points: int = _option(200, _count, "points of the pre-allocated scan (default: 200)")
    frame_every: int = _option(
        0, _count, f"write a camera frame every N steps (default: at most {MAX_FPS:g} frames/s)"
    )
    seed: int = _option(0, int, "seed of the simulated signals")
    swmr_delay: float = _option(
        0.0,
        _non_negative,
        "hold the file open without SWMR for this long first (readers are locked out)",
    )
    swmr: bool = _option(True, bool, "never switch SWMR mode on")

    def __post_init__(self) -> None:
        if self.frame_every is None:
            object.__setattr__(self, "frame_every", 0)
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            try:
                object.__setattr__(self, f.name, f.metadata["convert"](value))
            except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
                raise ValueError(f"{f.name}: {exc}") from None

    # -- derived values

    @property
    def period(self) -> float:
        """Seconds between steps."""
        return 1.0 / self.rate

    @property
    def step_rows(self) -> int:
        """Rows appended to each 0-D channel per step (at least one)."""
        return max(self.rows_per_step, 1)

    @property
    def frame_steps(self) -> int:
        """Steps between camera frames."""
        return self.frame_every or max(round(self.rate / MAX_FPS), 1)

    # -- command line

    @staticmethod
    def _flag(name: str) -> str:
        return "--no-swmr" if name == "swmr" else "--" + name.replace("_", "-")

    @classmethod
    def add_arguments(
        cls, parser: argparse.ArgumentParser, names: Iterable[str] | None = None
    ) -> argparse.ArgumentParser:
        """Add one option per field (or per field in `names`) to `parser`.

        Parameters
        ----------
        parser : argparse.ArgumentParser
            The parser to extend.
        names : iterable of str, optional
            Fields to add (default: all).

        Returns
        -------
        argparse.ArgumentParser
            `parser`.
        """
        wanted = None if names is None else set(names)
        for f in fields(cls):
            if wanted is not None and f.name not in wanted:
                continue
            if f.default is True:
                parser.add_argument(
                    cls._flag(f.name), dest=f.name, action="store_false", help=f.metadata["help"]
                )
            else:
                parser.add_argument(
                    cls._flag(f.name),
                    dest=f.name,
                    type=f.metadata["convert"],
                    default=f.default,
                    help=f.metadata["help"],
                )
        return parser

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DemoConfig:
        """The config of parsed arguments (fields missing from `args` keep their default)."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)})

    def to_argv(self) -> list[str]:
        """Command-line options that :meth:`add_arguments` parses back into this config."""
        argv: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            argv += [self._flag(f.name)] if f.default is True else [self._flag(f.name), str(value)]
        return argv
