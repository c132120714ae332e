"""Textract's error codes, messages and HTTP statuses, as the API reference lists them."""

from __future__ import annotations

# HTTP status per error code (Textract API reference, "Errors" of each operation): throttling and
# internal errors are 5xx, every other error is a 400.
_STATUS = {"ThrottlingException": 500, "InternalServerError": 500}


class LocalTextractError(Exception):
    """An error response: botocore turns `code` into the modelled exception class."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status if status is not None else _STATUS.get(code, 400)


def invalid_parameter(message: str) -> LocalTextractError:
    return LocalTextractError("InvalidParameterException", message)


def invalid_s3_object(message: str = "Unable to get object metadata from S3. Check object key, region and/or "
                                     "access permissions.") -> LocalTextractError:
    return LocalTextractError("InvalidS3ObjectException", message)


def unsupported_document(message: str = "Request has unsupported document format") -> LocalTextractError:
    return LocalTextractError("UnsupportedDocumentException", message)


def bad_document(message: str = "Amazon Textract isn't able to read the document.") -> LocalTextractError:
    return LocalTextractError("BadDocumentException", message)


def document_too_large(limit: str) -> LocalTextractError:
    return LocalTextractError("DocumentTooLargeException",
                              f"The document can't be processed because it's too large ({limit}).")
