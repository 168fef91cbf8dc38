"""`modelferry`: the operator's command line. It talks to a ModelFerry Function App over its HTTP API only (the
same API a user's script would use), so it works against `make up` and against Azure alike."""

__version__ = "0.1.0"
