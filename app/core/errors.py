"""Turning storage and file-system exceptions into one plain sentence a collector can act on."""

from __future__ import annotations

import errno
from dataclasses import dataclass

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    FlexibleChecksumError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSLError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from app.core.wording import fix


class StoreError(Exception):
    """A storage failure with a plain-language message.

    Attributes:
        permanent: retrying will not help until the user changes something
            (credentials, bucket name, permissions, clock).
        retryable: a passing condition (throttling, a server error, a lost
            connection): trying the same request again a little later may work.
        whole_destination: the destination itself is unusable (credentials, bucket,
            clock, region): every other file sent there would fail the same way.
        unreachable: no connection to the server could be made (refused, timed out,
            no route): the server, not the request, is the problem, so the files sent
            there wait for it together (app.core.pipeline.health).
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retryable: bool = False,
        whole_destination: bool = False,
        unreachable: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retryable = retryable or unreachable
        self.whole_destination = whole_destination
        self.unreachable = unreachable

    @property
    def reason(self) -> str:
        """The first sentence, to follow a colon: "the storage server asked us to slow down"."""
        first = str(self).split(". ", 1)[0].rstrip(".")
        if len(first) > 1 and first[0].isupper() and not first[1].isupper():
            first = first[0].lower() + first[1:]
        return first


class ChecksumMismatch(StoreError):
    """The bytes that reached (or came back from) the server are not the bytes we meant."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


@dataclass(frozen=True)
class _Wording:
    message: str
    permanent: bool
    retryable: bool = False
    fix: str | None = None  # what to change, as app.core.wording names it

    def text(self, **values: str) -> str:
        message = self.message.format(**values)
        return f"{message} {fix(self.fix)}" if self.fix else message


_CLIENT_ERRORS: dict[str, _Wording] = {
    "NoSuchBucket": _Wording("The bucket “{bucket}” does not exist.", True, fix="bucket"),
    "InvalidAccessKeyId": _Wording(
        "The storage server does not recognise the access key. Check your credentials.", True
    ),
    "SignatureDoesNotMatch": _Wording(
        "The storage server rejected the secret key. Check your credentials.", True
    ),
    "AccessDenied": _Wording(
        "Access to the bucket “{bucket}” was denied. Check your credentials and that they may "
        "write to it.",
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
        "The bucket “{bucket}” is in another region.", True, fix="region"
    ),
    "AuthorizationHeaderMalformed": _Wording(
        "The storage server rejected the request's region.", True, fix="request_region"
    ),
    "SlowDown": _Wording("The storage server asked us to slow down.", False, True),
    "ServiceUnavailable": _Wording("The storage server is temporarily unavailable.", False, True),
    "InternalError": _Wording("The storage server had an internal error.", False, True),
    "RequestTimeout": _Wording("The storage server timed out waiting for data.", False, True),
    "OperationAborted": _Wording("The storage server was busy with this object.", False, True),
}

# The server says the bytes it received are not the bytes the checksum describes.
_DIGEST_ERRORS = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"})
CHECKSUM_MISMATCH = (
    "The data that reached the storage server did not match its checksum, so the server refused it."
)
READ_BACK_MISMATCH = "The data read back from the storage server did not match its checksum."

_HTTP_STATUS: dict[str, _Wording] = {
    "403": _CLIENT_ERRORS["AccessDenied"],
    "404": _CLIENT_ERRORS["NoSuchBucket"],
    "301": _CLIENT_ERRORS["PermanentRedirect"],
    "400": _Wording("The storage server rejected the request (400 Bad Request).", True),
    "500": _CLIENT_ERRORS["InternalError"],
    "502": _Wording("The storage server had a gateway error (502).", False, True),
    "503": _CLIENT_ERRORS["ServiceUnavailable"],
    "504": _Wording("The storage server timed out (504).", False, True),
    "501": _Wording("The storage server does not support this request.", True, fix="checksums"),
}
_CLIENT_ERRORS["NotImplemented"] = _HTTP_STATUS["501"]


def describe_store_error(exc: BaseException, *, bucket: str, endpoint: str | None) -> StoreError:
    """Map a boto3/botocore exception to a StoreError with one clear sentence."""
    where = endpoint or "Amazon S3"
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in _DIGEST_ERRORS:
            return ChecksumMismatch(CHECKSUM_MISMATCH)
        wording = _CLIENT_ERRORS.get(code) or _HTTP_STATUS.get(code)
        if wording is None:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status and 500 <= int(status) < 600:
                return StoreError(
                    f"The storage server at {where} failed ({status}).", retryable=True
                )
            detail = str(error.get("Message") or code or "unknown error")
            return StoreError(f"The storage server refused the request: {detail}.", permanent=True)
        whole = wording.permanent and code != "400"
        return StoreError(
            wording.text(bucket=bucket),
            permanent=wording.permanent,
            retryable=wording.retryable,
            whole_destination=whole,
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return StoreError(
            f"No AWS credentials were found. {fix('credentials')}",
            permanent=True,
            whole_destination=True,
        )
    if isinstance(exc, ProfileNotFound):
        return StoreError(
            f"The AWS profile is not in your AWS config: {exc}.",
            permanent=True,
            whole_destination=True,
        )
    if isinstance(exc, SSLError):
        return StoreError(
            f"The secure connection to {where} failed: its certificate was not accepted.",
            permanent=True,
            whole_destination=True,
        )
    if isinstance(exc, BotoConnectionError):  # refused, connect timeout, proxy
        return StoreError(
            f"Cannot reach the storage server at {where}. Check the network connection and "
            "try again.",
            unreachable=True,
        )
    if isinstance(exc, ReadTimeoutError):
        return StoreError(f"The storage server at {where} did not answer in time.", retryable=True)
    if isinstance(exc, ConnectionClosedError | HTTPClientError):
        return StoreError(
            f"The connection to the storage server at {where} was lost.", retryable=True
        )
    if isinstance(exc, FlexibleChecksumError):
        return ChecksumMismatch(READ_BACK_MISMATCH)
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
