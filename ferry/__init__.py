"""ModelFerry core: settings, Document Intelligence REST clients, error taxonomy, copy steps.

Plain Python with no Azure Functions import, so every piece can be used and tested outside a Functions host.
"""

__version__ = "0.1.0"
