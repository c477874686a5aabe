"""PySide6 front end over core."""
