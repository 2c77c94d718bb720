"""Type aliases shared by the modules (re-exported from mmseg)."""
