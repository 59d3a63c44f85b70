"""Markdown -> site: the build (stage, run MkDocs, swap), incremental runs, the live preview."""
