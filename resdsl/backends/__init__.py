"""Backends read the checked IR: PyTorch source and modules, Graphviz drawings, cost tables."""
