"""Caching shared by the build steps: a content-addressed store and the reuse of generated files.

Nothing here knows what it stores; the layers above pass it keys and values.
"""
