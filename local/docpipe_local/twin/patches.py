"""The patches that turn moto 5.2.5 into the local twin's engine (see DESIGN.md).

Four change behaviour (Lambda runs in-process, Wait and Retry sleep on the virtual clock, "now" is
the virtual clock's); two only make it fast (a parsed state machine and parsed JSONPath expressions
are reused instead of being parsed again for every execution and every path). They reach into moto internals, so moto is pinned to exactly the version they were written for;
`check_moto_version` refuses to run on any other.
"""

from __future__ import annotations

import datetime
import functools
import json
import traceback
from contextlib import ExitStack
from typing import Any, Callable
from unittest import mock

import moto

MOTO_VERSION = "5.2.5"
# moto runs state machines for real (its ASL interpreter) and Lambda without Docker.
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}

# (function name or ARN, payload bytes) -> handler result (JSON-serialisable)
Dispatcher = Callable[[str, bytes], Any]


class UnsupportedMotoVersion(RuntimeError):
    """moto is not the version the patches were written against."""


def check_moto_version() -> None:
    if moto.__version__ != MOTO_VERSION:
        raise UnsupportedMotoVersion(
            f"the local twin patches moto {MOTO_VERSION} internals; installed moto is {moto.__version__}"
        )


def lambda_error_payload(error: BaseException) -> dict[str, Any]:
    """The body AWS Lambda returns for an unhandled exception: errorType is the class name."""
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_exception(type(error), error, error.__traceback__),
    }


def make_invoke(dispatch: Dispatcher) -> Callable[..., bytes]:
    """Patch 1: LambdaSimpleBackend.invoke runs the in-process handler named by the template."""

    def invoke(self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any,
               response_headers: Any) -> bytes:
        payload = body if isinstance(body, bytes) else (body or "{}").encode()
        try:
            result = dispatch(function_name, payload)
        except Exception as error:  # noqa: BLE001 - every handler failure must reach ErrorEquals, as on AWS
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(lambda_error_payload(error)).encode()
        try:
            return json.dumps(result).encode()
        except (TypeError, ValueError) as error:
            # What the Lambda runtime reports for a return value it cannot serialise.
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "Runtime.MarshalError",
                               "errorMessage": f"Unable to marshal response: {error}", "stackTrace": []}).encode()

    return invoke


def make_wait_interval(on_wait: Callable[[float], None]) -> Callable[..., None]:
    """Patch 2: a Wait state records its seconds on the virtual clock instead of sleeping."""

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        on_wait(float(wait_seconds))

    return wait_interval


class _RetryTime:
    """Patch 3: stands in for the `time` module inside moto's retrier: sleeps are recorded."""

    def __init__(self, on_sleep: Callable[[float], None]) -> None:
        self._on_sleep = on_sleep

    def sleep(self, seconds: float) -> None:
        self._on_sleep(float(seconds))


class _StatesDatetime:
    """Patch 4: stands in for the `datetime` module where moto reads "now" for a state
    (`$$.State.EnteredTime`, a Wait's `Timestamp`/`TimestampPath`): now is the virtual clock's, and
    EnteredTime is written in the form moto's own Timestamp comparisons can read."""

    def __init__(self, clock: Callable[[], float]) -> None:
        virtual = clock

        class _Datetime(datetime.datetime):
            @classmethod
            def now(cls, tz: datetime.tzinfo | None = None) -> _Datetime:  # type: ignore[override]
                # Whole seconds: moto waits int(timestamp - now) seconds, so from a truncated "now" a
                # Wait until a whole-second timestamp ends at it, never a fraction before it.
                moment = datetime.datetime.fromtimestamp(virtual(), tz)
                return cls(*moment.timetuple()[:6], tzinfo=moment.tzinfo)

            def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
                # moto's Choice rules only parse "2016-03-14T01:59:00Z"; AWS's EnteredTime adds
                # milliseconds, which the twin drops so that Timestamp*Path comparisons work.
                if self.utcoffset() == datetime.timedelta(0):
                    return self.strftime("%Y-%m-%dT%H:%M:%SZ")
                return super().isoformat(sep, timespec)

        self.datetime = _Datetime
        self.timezone = datetime.timezone
        self.timedelta = datetime.timedelta


def make_cached_parse(parse: Callable[[str], tuple[Any, Any]]) -> Callable[[str], tuple[Any, Any]]:
    """Patch 5: moto parses the ASL definition with ANTLR for every execution, a sixth of a chaos
    run's time. The parse tree is read-only, so it is kept per definition; the evaluation components
    are still built fresh for each execution, because they are what an execution mutates."""
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    trees: dict[str, Any] = {}

    def cached_parse(definition: str) -> tuple[Any, Any]:
        tree = trees.get(definition)
        if tree is None:
            _, tree = parse(definition)  # raises ASLParserException on a bad definition, as before
            trees[definition] = tree
        return Preprocessor().visit(tree), tree

    return cached_parse


def apply(stack: ExitStack, *, dispatch: Dispatcher, on_wait: Callable[[float], None],
          on_retry_sleep: Callable[[float], None], clock: Callable[[], float] | None = None) -> None:
    """Apply the patches for the lifetime of `stack` (the fourth only with a `clock`)."""
    check_moto_version()
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state import state
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    stack.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", make_invoke(dispatch)))
    stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", make_wait_interval(on_wait)))
    stack.enter_context(mock.patch.object(retrier_decl, "time", _RetryTime(on_retry_sleep)))
    stack.enter_context(mock.patch.object(
        AmazonStateLanguageParser, "parse", staticmethod(make_cached_parse(AmazonStateLanguageParser.parse))))
    # Patch 6: jsonpath_ng builds a new yacc parser for every parse(); a parsed path is immutable.
    stack.enter_context(mock.patch.object(json_path, "parse", functools.lru_cache(maxsize=1024)(json_path.parse)))
    if clock is not None:
        shim = _StatesDatetime(clock)
        stack.enter_context(mock.patch.object(state, "datetime", shim))
        stack.enter_context(mock.patch.object(timestamp, "datetime", shim))
