"""A save refused because another hand changed the file on disk: say which, and offer to reload."""
from __future__ import annotations

from PySide6.QtWidgets import QMessageBox


def ask_reload(parent, title: str, error: Exception) -> bool:
    """Show the conflict by name; True if the user chose to reload what is on disk."""
    box = QMessageBox(QMessageBox.Warning, title, str(error), parent=parent)
    reload = box.addButton("Reload", QMessageBox.AcceptRole)
    box.addButton("Keep my edits", QMessageBox.RejectRole)
    box.setDefaultButton(reload)
    box.exec()
    return box.clickedButton() is reload
