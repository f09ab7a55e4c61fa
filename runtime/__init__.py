"""On-device scoring. Imports numpy, cv2 and a TFLite interpreter only — never TensorFlow."""
from .errors import ImageError, MetadataError, ModelError, NimaError, SourceError
from .images import decode_image, iter_image_paths, load_image
from .metadata import ModelMetadata, embed_metadata, read_metadata
from .preprocess import preprocess
from .scorer import Score, Scorer, mean_std

__all__ = [
    "ImageError",
    "MetadataError",
    "ModelError",
    "ModelMetadata",
    "NimaError",
    "Score",
    "Scorer",
    "SourceError",
    "decode_image",
    "embed_metadata",
    "iter_image_paths",
    "load_image",
    "mean_std",
    "preprocess",
    "read_metadata",
]
