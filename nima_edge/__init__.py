"""nima-edge: image-quality scoring (NIMA) from Keras training to an on-device TFLite runtime.

The import package maps the repository's stage folders: ``nima_edge.runtime`` is runtime/,
``nima_edge.training`` is training/, and so on (see pyproject.toml).
"""

__version__ = "0.1.0"
