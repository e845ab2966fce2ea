"""Turning storage and file-system exceptions into one plain sentence a collector can act on."""

from __future__ import annotations

import errno
from dataclasses import dataclass

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSLError,
)


class StoreError(Exception):
    """A storage failure with a plain-language message.

    Attributes:
        permanent: retrying will not help until the user changes something
            (credentials, bucket name, permissions, clock).
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class _Wording:
    message: str
    permanent: bool


_CLIENT_ERRORS: dict[str, _Wording] = {
    "NoSuchBucket": _Wording(
        "The bucket “{bucket}” does not exist. Check the bucket name in Settings.", True
    ),
    "InvalidAccessKeyId": _Wording(
        "The storage server does not recognise the access key. Check your credentials.", True
    ),
    "SignatureDoesNotMatch": _Wording(
        "The storage server rejected the secret key. Check your credentials.", True
    ),
    "AccessDenied": _Wording(
        "Access to the bucket “{bucket}” was denied. Check that your credentials may write to it.",
        True,
    ),
    "AllAccessDisabled": _Wording("All access to the bucket “{bucket}” is disabled.", True),
    "RequestTimeTooSkewed": _Wording(
        "This computer's clock is too far off for the storage server. Set the correct time "
        "and try again.",
        True,
    ),
    "ExpiredToken": _Wording(
        "Your session credentials have expired. Sign in again (for SSO: aws sso login).", True
    ),
    "InvalidBucketName": _Wording("“{bucket}” is not a valid bucket name.", True),
    "PermanentRedirect": _Wording(
        "The bucket “{bucket}” is in another region. Set its region in Settings.", True
    ),
    "AuthorizationHeaderMalformed": _Wording(
        "The storage server rejected the request's region. Set the bucket's region in Settings.",
        True,
    ),
    "SlowDown": _Wording("The storage server asked us to slow down.", False),
    "ServiceUnavailable": _Wording("The storage server is temporarily unavailable.", False),
    "InternalError": _Wording("The storage server had an internal error.", False),
    "RequestTimeout": _Wording("The storage server timed out waiting for data.", False),
}

_HTTP_STATUS: dict[str, _Wording] = {
    "403": _CLIENT_ERRORS["AccessDenied"],
    "404": _CLIENT_ERRORS["NoSuchBucket"],
    "301": _CLIENT_ERRORS["PermanentRedirect"],
    "400": _Wording("The storage server rejected the request (400 Bad Request).", True),
    "501": _Wording(
        "The storage server does not support this request. If it rejects checksums, set "
        "Checksums to “when required” in Settings.",
        True,
    ),
}


def describe_store_error(exc: BaseException, *, bucket: str, endpoint: str | None) -> StoreError:
    """Map a boto3/botocore exception to a StoreError with one clear sentence."""
    where = endpoint or "Amazon S3"
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        wording = _CLIENT_ERRORS.get(code) or _HTTP_STATUS.get(code)
        if wording is None:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status and 500 <= int(status) < 600:
                return StoreError(f"The storage server at {where} failed ({status}).")
            detail = str(error.get("Message") or code or "unknown error")
            return StoreError(f"The storage server refused the request: {detail}.", permanent=True)
        return StoreError(wording.message.format(bucket=bucket), permanent=wording.permanent)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return StoreError(
            "No AWS credentials were found. Enter keys in Settings, pick a profile, or set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
            permanent=True,
        )
    if isinstance(exc, ProfileNotFound):
        return StoreError(f"The AWS profile is not in your AWS config: {exc}.", permanent=True)
    if isinstance(exc, SSLError):
        return StoreError(
            f"The secure connection to {where} failed: its certificate was not accepted.",
            permanent=True,
        )
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return StoreError(f"Cannot reach the storage server at {where}.")
    if isinstance(exc, ReadTimeoutError | ConnectionClosedError):
        return StoreError(f"The connection to the storage server at {where} was lost.")
    if isinstance(exc, BotoCoreError):
        return StoreError(f"The upload to {where} failed: {exc}.")
    if isinstance(exc, OSError):
        return StoreError(describe_os_error(exc))
    return StoreError(f"The upload failed unexpectedly: {type(exc).__name__}: {exc}")


def describe_os_error(exc: OSError) -> str:
    """One sentence for a local file problem."""
    code = exc.errno
    if isinstance(exc, FileNotFoundError) or code == errno.ENOENT:
        return "The file is no longer there (moved, renamed or deleted)."
    if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM):
        return "The file cannot be read: permission denied."
    if isinstance(exc, IsADirectoryError):
        return "This is a folder, not a file."
    if code == errno.EIO:
        return "The file could not be read: the drive reported an input/output error."
    if code in (errno.ENODEV, errno.ENXIO, errno.ESTALE):
        return "The file's drive is no longer available."
    reason = exc.strerror or str(exc)
    return f"The file could not be read: {reason}."
