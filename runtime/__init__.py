"""On-device scoring. Imports numpy, cv2 and a TFLite interpreter only — never TensorFlow."""
from .errors import ImageError, MetadataError, ModelError, NimaError, SourceError
from .images import decode_image, iter_image_paths, load_image
from .metadata import ModelMetadata, embed_metadata, read_metadata
from .preprocess import preprocess
from .scorer import Score, Scorer, mean_std

__all__ = [
    "ImageError", "MetadataError", "ModelError", "NimaError", "SourceError",
    "decode_image", "iter_image_paths", "load_image",
    "ModelMetadata", "embed_metadata", "read_metadata",
    "preprocess", "Score", "Scorer", "mean_std",
]
