"""Pydantic models for the review's data files: the contract between editors and the builder."""

from .common import Provenance
from .review import Analysis, Outcome, Review
from .study import Study

__all__ = ["Analysis", "Outcome", "Provenance", "Review", "Study"]
