"""The one way the package makes a matplotlib figure."""

from __future__ import annotations

from typing import Any

__all__ = ["agg_figure"]


def agg_figure(width: float, height: float) -> Any:
    """A matplotlib ``Figure`` (inches) on the Agg canvas, outside pyplot.

    No global figure state to close or to share between threads, and no
    pyplot import (about 0.5 s of a first figure); ``fig.savefig`` writes PNG.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig
