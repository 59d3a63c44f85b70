"""Builder for a living systematic review: YAML data in, statistics, figures and a static site out."""

__version__ = "0.1.0"
