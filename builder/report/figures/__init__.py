"""The figures, each written as deterministic SVG with real text (light and dark schemes)."""
