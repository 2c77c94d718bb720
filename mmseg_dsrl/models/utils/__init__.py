"""Model-side utilities: the build-time geometry probe
(:mod:`.feature_geometry`) and everything known about mmseg's host heads and
segmentors (:mod:`.host_adapters`)."""
