"""The one exception type that means "the user gave us something we cannot use".

The CLI turns it into a one-line message and exit code 2; the server into an HTTP 4xx.
Anything else escaping is a bug and keeps its traceback.
"""


class LatentspaceError(ValueError):
    """Bad input or an unusable resource, explained in one line."""
