"""The one exception type the command line turns into a one-line message."""


class GQNError(Exception):
    """A user-facing error: bad input, bad data, missing system support.

    The ``gqn`` command prints ``gqn: error: <message>`` and exits with
    status 2 instead of a traceback. Library callers catch it like any
    exception.
    """
