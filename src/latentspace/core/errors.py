"""The one exception type that means "the user gave us something we cannot use".

The CLI turns it into a one-line message and exit code 2; the server into an HTTP 4xx.
Anything else escaping is a bug and keeps its traceback. Users import it as `latentspace.errors`
(the package registers that name for this module).
"""


class LatentspaceError(ValueError):
    """Bad input or an unusable resource, explained in one line."""

    __module__ = "latentspace.errors"  # its public name (an alias of this module): tracebacks and pickles say so
