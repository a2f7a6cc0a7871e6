"""Error types shared by every stage.

`InputError` means the user gave us something we cannot use (CLI exit code 2,
HTTP 4xx); anything else that escapes is an internal error (exit code 1).
"""


class FabricateError(Exception):
    """Base class of every error fabricate raises on purpose."""


class InputError(FabricateError):
    """The input (photo, option, mesh file, printer choice) cannot be used.

    The message is one line a maker can act on.
    """


class MeshError(FabricateError):
    """A mesh failed validation and could not be repaired."""
