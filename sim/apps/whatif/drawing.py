"""The what-if's charts as PNG, drawn as a notebook shows a figure, with less work per update.

:func:`png` gives the same pixels as ``figure.savefig(..., format="png",
bbox_inches="tight")`` (trimmed to what is drawn; a legend or caption wider than the figure
is kept, not cut off), two ways quicker:

* the Agg renderers are kept between charts of the same size (:class:`KeptCanvas`), so
  matplotlib's text measurements, cached per renderer, are reused: a chart's caption,
  footnote, legend and tick labels are measured once, not on every update;
* the PNG is compressed at zlib level 1 (:data:`COMPRESS_LEVEL`): the same pixels, a few
  per cent more bytes, a fraction of the time.

Imports matplotlib: the engine imports this module when it first draws.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure

COMPRESS_LEVEL = 1
"""zlib level of the PNGs (matplotlib's default is 6): the pixels are the same."""
KEPT_RENDERERS = 8
"""Renderers kept, the most recently used (one per size of image: a chart's full size and
its trimmed size; about 6 MB each at 144 dots per inch)."""

_renderers: OrderedDict[tuple[int, int, float], RendererAgg] = OrderedDict()
_lock = threading.Lock()
"""One drawing at a time: the kept renderers are shared."""


class KeptCanvas(FigureCanvasAgg):
    """An Agg canvas that draws with a renderer kept for its size and dots per inch.

    Drawing clears the renderer first (as a new one starts blank), so the pixels are those
    of a new canvas; only the text measurements cached with the renderer carry over.
    """

    def get_renderer(self) -> RendererAgg:
        width, height = self.get_width_height(physical=True)
        key = (width, height, self.figure.dpi)
        renderer = _renderers.get(key)
        if renderer is None:
            renderer = _renderers[key] = RendererAgg(width, height, self.figure.dpi)
            while len(_renderers) > KEPT_RENDERERS:
                _renderers.popitem(last=False)
        else:
            _renderers.move_to_end(key)
        self.renderer = renderer
        return renderer


def png(figure: Figure, dpi: int) -> bytes:
    """``figure`` as PNG bytes at ``dpi``, trimmed to what is drawn (``bbox_inches="tight"``).

    The figure is given a :class:`KeptCanvas` (it should not be shown elsewhere meanwhile).
    """
    buffer = io.BytesIO()
    with _lock:
        KeptCanvas(figure)
        figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight",
                       pil_kwargs={"compress_level": COMPRESS_LEVEL})  # fmt: skip
    return buffer.getvalue()
