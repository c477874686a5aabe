"""The Reports view: preview and export inspection reports from the records."""
