"""Labelling: datasets as editable projects, review of model proposals, splits and statistics."""
