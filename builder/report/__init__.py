"""Results -> text, figures, Markdown pages and results.json/CSV. Knows nothing of MkDocs."""
