"""Torch networks of spinelab (training side). Importing this package needs ``torch``, and the
heatmap network (:mod:`spinelab.nets.heatmap`) MONAI as well (``pip install spinelab[train]``);
inference of the shipped models is numpy where it can be."""
