"""Error types shared by every stage, each carrying its own CLI exit code and HTTP status.

`InputError` and its kinds mean the user gave us something we cannot use (exit code 2,
HTTP 4xx); `MeshError` means a model could not be made printable; anything else that
escapes is an internal error (exit code 1, HTTP 500). The CLI and the web API map by
type, never by the wording of a message.
"""

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2


class FabricateError(Exception):
    """Base class of every error fabricate raises on purpose."""

    exit_code = EXIT_INTERNAL
    http_status = 500


class InputError(FabricateError):
    """The input (photo, option, mesh file, printer choice) cannot be used.

    The message is one line a maker can act on.
    """

    exit_code = EXIT_INPUT
    http_status = 400


class UnsupportedFormat(InputError):
    """A file that is not one of the formats we read (sniffed from its bytes)."""

    http_status = 415


class TooLarge(InputError):
    """A file or image over the size we accept."""

    http_status = 413


class TooSmall(InputError):
    """An image or object too small to work with."""

    http_status = 400


class NoObject(InputError):
    """No usable object was found in a photo."""

    http_status = 422


class BadOption(InputError):
    """An option outside its allowed values or range, or one the chosen model does not use."""

    http_status = 422


class InconsistentViews(InputError):
    """Several photos that cannot show the same object (names the photo that disagrees)."""

    http_status = 422


class NotFound(InputError):
    """A named file, printer or other thing that does not exist."""

    http_status = 404


class MeshError(FabricateError):
    """A mesh failed validation and could not be repaired."""


class NotPrintable(MeshError):
    """A mesh the user gave us (``check``) that is not printable: their input, so exit 2."""

    exit_code = EXIT_INPUT
    http_status = 422
