"""spinelab: find and name the vertebrae in 3-D CT scans."""

from spinelab.structures import Centroids, Volume

__version__ = "0.1.0"

__all__ = ["Centroids", "Volume", "__version__"]
