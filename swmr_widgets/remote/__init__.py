"""Watch from anywhere: mirror live HDF5 files into a Tiled server and follow them there.

* :mod:`swmr_widgets.remote.publish`: the sidecar that follows local SWMR
  files with the live engine and mirrors them into Tiled
  (``swmr-widgets publish PATH... --tiled URL``).
* :mod:`swmr_widgets.remote.engine`: :class:`TiledLive`, the live engine's
  Tiled source; it offers :class:`~swmr_widgets.live.LiveFile`'s interface and
  its typed updates, so ``SwmrView`` renders it unchanged.
* :mod:`swmr_widgets.remote.schema`: what the publisher writes into Tiled's
  metadata, and how a viewer reads it back.
* :mod:`swmr_widgets.remote.server`: start and stop a local ``tiled serve``
  (tests, benchmarks).

Tiled (``pip install "swmr-widgets[tiled]"``) is imported by these modules
only; the core never imports them.
"""
