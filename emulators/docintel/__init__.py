"""Document Intelligence / Form Recognizer emulator: state, wire format, routes, errors, HTTP server."""

from .handle import ResourceHandle
from .settings import ResourceSettings

__all__ = ["ResourceHandle", "ResourceSettings"]
