"""Answering botocore's Textract calls in-process, through botocore's own event system.

`before-parameter-build` keeps the caller's parameters (whatever wire protocol botocore then
serialises them to: JSON or, since 2025, CBOR); `before-call` returns `(http_response, parsed)`,
which makes botocore skip the HTTP request. Errors come back as status >= 400 with
`{"Error": {"Code", "Message"}}`, so botocore raises the modelled exception class exactly as it
does for AWS. Nothing reaches the network, and retries configured on the client are not applied:
one injected fault is one exception seen by the caller.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

from botocore.awsrequest import AWSResponse

from docpipe_local.engine.errors import LocalTextractError

_PARAMS_KEY = "docpipe_local.textract_params"


class _Body:
    """The raw body botocore may read from an AWSResponse."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Any:
        yield self._content


class Interceptor:
    """Registers on botocore event emitters and answers Textract calls with `handle`."""

    def __init__(self, handle: Callable[[str, dict[str, Any]], dict[str, Any]]) -> None:
        self._handle = handle
        self._unique_id = f"docpipe-local-textract-{id(self)}"
        self._emitters: list[Any] = []
        self.active = False

    def attach(self, emitter: Any) -> None:
        emitter.register("before-parameter-build.textract", self._keep_params, unique_id=f"{self._unique_id}-params")
        emitter.register("before-call.textract", self._answer, unique_id=f"{self._unique_id}-call")
        self._emitters.append(emitter)
        self.active = True

    def detach(self) -> None:
        """Unregister everywhere; clients that copied an emitter earlier see the engine inactive."""
        for emitter in self._emitters:
            emitter.unregister("before-parameter-build.textract", unique_id=f"{self._unique_id}-params")
            emitter.unregister("before-call.textract", unique_id=f"{self._unique_id}-call")
        self._emitters.clear()
        self.active = False

    def _keep_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if self.active:
            context[_PARAMS_KEY] = copy.deepcopy(params)

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not self.active or _PARAMS_KEY not in context:
            return None
        params = context.pop(_PARAMS_KEY)
        try:
            body, status = self._handle(model.name, params), 200
        except LocalTextractError as error:
            body = {"Error": {"Code": error.code, "Message": error.message}, "Message": error.message}
            status = error.status
        raw = json.dumps(body).encode()
        request_id = str(uuid.uuid4())
        headers = {"x-amzn-requestid": request_id, "content-type": "application/x-amz-json-1.1",
                   "content-length": str(len(raw)), "date": formatdate(usegmt=True)}
        # A fresh copy, as from the wire: callers may mutate what they get without touching the engine.
        parsed = json.loads(raw)
        parsed["ResponseMetadata"] = {"RequestId": request_id, "HTTPStatusCode": status, "HTTPHeaders": headers,
                                      "RetryAttempts": 0}
        return AWSResponse("https://textract.local.docpipe/", status, headers, _Body(raw)), parsed
