"""Reading and writing images and landmark files.

This package is the only place where spinelab converts between file conventions (RAS, voxel
indices, z-y-x arrays, ...) and its in-memory convention: world millimetres in LPS.
"""
