"""The live inspection view."""
