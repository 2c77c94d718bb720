"""Shared utilities of the library: type aliases, building a model from a
config for inference, rescaling a training schedule. Nothing here is
imported when the package is (modules are imported on use)."""
