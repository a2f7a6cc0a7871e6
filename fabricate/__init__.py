"""fabricate: photos of an object to a watertight, coloured, print-ready 3MF."""
__version__ = "0.1.0"
