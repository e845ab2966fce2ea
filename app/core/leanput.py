"""Small PUTs with a fraction of an API call's CPU: signed and sent by botocore's own
parts (the client's credentials, SigV4 signer, HTTP session and before-send hooks), not
through the whole call (parameter checks, serialising, endpoint rules, a dozen events).

Why: a new photo costs four small PUTs (photo, thumbnail, sidecar, index entry), and
boto3 spends about 2 ms of CPU on each, under one GIL: that, not the network, bounds
thousands of small files (docs/NOTES.md, bench/network.py). Here one costs about 1 ms.

The URL is the one botocore resolves for the bucket (asked once, from a presigned URL);
an error answer is parsed by botocore's own parser into the ClientError the API call
would raise, so retries and messages are as before, one request per try. Only an answer
that the bucket lives in another region is sent again through the API call, which
follows it; that store's small PUTs then all take the API call. A client whose parts
are not where this expects them (another botocore) is never used here either.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import botocore
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError
from botocore.hooks import first_non_none_response
from botocore.parsers import create_parser

from app import __version__

log = logging.getLogger(__name__)
_PROBE_KEY = "photo-uploader-probe-key"
_USER_AGENT = f"photo-uploader/{__version__} botocore/{botocore.__version__}"
# Answers the API call handles better: it follows the bucket to its region.
_ELSEWHERE = frozenset(
    {
        "PermanentRedirect",
        "AuthorizationHeaderMalformed",
        "IllegalLocationConstraintException",  # (an opt-in region, asked from another)
        "301",
        "307",
    }
)


class LeanPuts:
    """PUTs of small bodies to one bucket through `client`'s parts."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._base: str | None = None
        try:
            url = client.generate_presigned_url(
                "put_object", Params={"Bucket": bucket, "Key": _PROBE_KEY}, ExpiresIn=60
            )
            base = url.split("?", 1)[0]
            signer = client._request_signer
            self._credentials = signer._credentials
            self._region = signer._region_name or client.meta.region_name
            self._session = client._endpoint.http_session
            self._events = client.meta.events
            self._output = client.meta.service_model.operation_model("PutObject").output_shape
            self._parser = create_parser("rest-xml")
            if base.endswith(_PROBE_KEY) and self._credentials is not None:
                self._base = base[: -len(_PROBE_KEY)]
        except Exception as exc:  # not the botocore this was written for: API calls only
            log.info("small PUTs go through the API call: %s", exc)

    @property
    def usable(self) -> bool:
        return self._base is not None

    def put(self, key: str, body: bytes, headers: dict[str, str]) -> bool:
        """Store `body` at `key`: True when the server said it did, False when the
        caller should make the API call instead. Raises ClientError for an error answer
        and botocore's exceptions for network failures, as the API call does."""
        base = self._base  # (read once: another thread may give up on it meanwhile)
        if base is None:
            return False
        credentials = self._credentials.get_frozen_credentials()
        if not credentials.access_key:
            return False
        request = AWSRequest(
            method="PUT",
            url=base + quote(key, safe="/~"),
            data=body,
            headers={**headers, "User-Agent": _USER_AGENT},
        )
        S3SigV4Auth(credentials, "s3", self._region).add_auth(request)
        prepared = request.prepare()
        # (Where the upload speed limit meters the body, and where test doubles answer.)
        hooked = first_non_none_response(
            self._events.emit("before-send.s3.PutObject", request=prepared)
        )
        response = hooked if hooked is not None else self._session.send(prepared)
        content = response.content  # read to the end: the connection goes back to the pool
        if 200 <= response.status_code < 300:
            return True
        parsed = self._parser.parse(
            {
                "status_code": response.status_code,
                "headers": response.headers,
                "body": content,
            },
            self._output,
        )
        code = str(parsed.get("Error", {}).get("Code", response.status_code))
        if code in _ELSEWHERE or 300 <= response.status_code < 400:
            self._base = None  # this bucket's URL is not ours to guess: API calls from now
            return False
        raise ClientError(parsed, "PutObject")
