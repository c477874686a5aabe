"""The offline user guides shown inside the application."""
