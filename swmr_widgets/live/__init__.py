"""The live engine: a framework-free model of an HDF5 file that another program writes.

:class:`LiveFile` waits for the file, attaches, reopens it when it is replaced,
keeps one handle per dataset, runs one feed per followed dataset that reads
only what is new, and reports the writer's health. The Jupyter widget, the
terminal follower and the Tiled publisher are thin renderers of it.
"""

from swmr_widgets.live.axes import AxisReader
from swmr_widgets.live.engine import LiveFile, Poll
from swmr_widgets.live.feeds import (
    DetailsFeed,
    Feed,
    FrameFeed,
    MapFeed,
    SeriesFeed,
    SliceFeed,
    TraceFeed,
    ValueFeed,
)
from swmr_widgets.live.folder import FolderPoll, LiveFolder
from swmr_widgets.live.health import Health, State
from swmr_widgets.live.source import Change
from swmr_widgets.live.trends import Roi, RoiFeed, TrendFeed, TrendRows
from swmr_widgets.live.updates import Details, Latest, Rows, ScanMap, Slice, Update, Value

__all__ = [
    "AxisReader",
    "Change",
    "Details",
    "DetailsFeed",
    "Feed",
    "FolderPoll",
    "FrameFeed",
    "Health",
    "Latest",
    "LiveFile",
    "LiveFolder",
    "MapFeed",
    "Poll",
    "Roi",
    "RoiFeed",
    "Rows",
    "ScanMap",
    "SeriesFeed",
    "Slice",
    "SliceFeed",
    "State",
    "TraceFeed",
    "TrendFeed",
    "TrendRows",
    "Update",
    "Value",
    "ValueFeed",
]
