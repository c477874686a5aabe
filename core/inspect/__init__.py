"""Live inspection: sources, recipes (verdict rules), the pipeline and its SQLite records."""
