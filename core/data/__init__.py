"""Data: image loading, the shared letterbox, dataset formats, validation, augmentation."""
