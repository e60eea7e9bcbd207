"""Torch networks of spinelab (training side). Importing this package needs ``torch``
(``pip install spinelab[train]``); inference of the shipped models is numpy where it can be."""
