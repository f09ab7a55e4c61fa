"""The runtime's exceptions. Library code raises these; only the CLI turns them into click errors."""


class NimaError(Exception):
    """Base class of every error nima-edge raises on purpose."""


class ImageError(NimaError):
    """An image file that cannot be read or decoded. The message names the file."""


class ModelError(NimaError):
    """A model file that cannot be loaded or is not a NIMA."""


class MetadataError(ModelError):
    """Metadata inside a model that is malformed, too large or out of range."""


class SourceError(NimaError):
    """A camera, video or stream that cannot be opened or stopped delivering frames."""


class SourceUnavailable(SourceError):
    """A source whose driver or library is missing here: retrying cannot help, so nobody retries."""
