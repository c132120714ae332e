"""The patches that turn moto 5.2.5 into the local twin's engine (see DESIGN.md).

Five put the state machines on the twin's time (Lambda runs in-process; Wait and Retry wait on
the virtual clock; "now" is the virtual clock's; the clock learns when executions start and end);
one makes DynamoDB writes atomic under concurrent executions, as DynamoDB's are; two only make it
fast (a parsed state machine and parsed JSONPath expressions are reused instead of being parsed
again for every execution and every path). They reach into moto internals, so moto is pinned to
exactly the version they were written for; `check_moto_version` refuses to run on any other.
"""

from __future__ import annotations

import copy
import datetime
import functools
import json
import sys
import threading
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


def _execution_and_state(env: Any) -> tuple[str | None, str | None]:
    """The execution ARN and current state name of a moto evaluation environment."""
    try:
        data = env.states.context_object.context_object_data
        return data["Execution"]["Id"], (data.get("State") or {}).get("Name")
    except (AttributeError, KeyError, TypeError):
        return None, None


def make_wait_interval(on_wait: Callable[..., None], on_wait_until: Callable[..., None] | None = None,
                       clock: Callable[[], float] | None = None) -> Callable[..., None]:
    """Patch 2: a Wait state records its seconds on the virtual clock instead of sleeping, as time
    of the execution that waits; a Timestamp wait (with a clock) as a wait until that moment."""
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        execution, state = _execution_and_state(env)
        # Timestamp and TimestampPath both subclass Timestamp; moto computed the seconds from the
        # clock's whole-second "now", so that is the moment the wait ends at.
        if on_wait_until is not None and clock is not None and isinstance(self, Timestamp):
            on_wait_until(float(int(clock())) + max(0, wait_seconds), execution=execution, state=state)
        else:
            on_wait(float(wait_seconds), execution=execution, state=state)

    return wait_interval


class _RetryTime:
    """Patch 3: stands in for the `time` module inside moto's retrier: sleeps are recorded as time
    of the execution that retries (its environment is the caller's `env`)."""

    def __init__(self, on_sleep: Callable[..., None]) -> None:
        self._on_sleep = on_sleep

    def sleep(self, seconds: float) -> None:
        execution, _ = _execution_and_state(sys._getframe(1).f_locals.get("env"))
        self._on_sleep(float(seconds), execution=execution)


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


def make_execution_logic(original: Callable[[Any], None], on_start: Callable[[str], None],
                         on_end: Callable[[str], None]) -> Callable[[Any], None]:
    """Patch 8: the virtual clock is told when an execution starts and ends, so it knows which
    executions must all be waiting before time may jump ahead."""

    def execution_logic(self: Any) -> None:
        execution = self._evaluation_details.execution_details.arn
        on_start(execution)
        try:
            original(self)
        finally:
            on_end(execution)

    return execution_logic


def make_cached_parse(parse: Callable[[str], tuple[Any, Any]]) -> Callable[[str], tuple[Any, Any]]:
    """Patch 5: moto parses the ASL definition with ANTLR and builds its evaluation components for
    every execution, a quarter of a chaos run's time. The components keep no execution's state (an
    execution's retry counts and the like live in its own Environment, keyed by each component's
    `heap_key`), so one parse per definition serves every execution. The heap keys are drawn once,
    up front: drawn lazily, two executions starting together could each draw a different key for
    the same component and lose a retry count. Map and Parallel states keep worker state on their
    components, so a definition that has them is parsed afresh each time, as moto does."""
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    parsed: dict[str, tuple[Any, Any]] = {}
    lock = threading.Lock()

    def cached_parse(definition: str) -> tuple[Any, Any]:
        if '"Map"' in definition or '"Parallel"' in definition:
            return parse(definition)
        with lock:
            if definition not in parsed:
                program, tree = parse(definition)  # raises ASLParserException on a bad definition, as before
                _draw_heap_keys(program, EvalComponent)
                parsed[definition] = (program, tree)
            return parsed[definition]

    return cached_parse


def _draw_heap_keys(root: Any, component_type: type) -> None:
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, component_type):
            _ = node.heap_key
        if isinstance(node, dict):
            pending.extend(node.values())
        elif isinstance(node, (list, tuple, set)):
            pending.extend(node)
        elif hasattr(node, "__dict__") and type(node).__module__.startswith("moto."):
            pending.extend(vars(node).values())


class _TablesNotCopied:
    """Stands in for the `copy` module inside moto's DynamoDB backend: a transaction no longer
    deep-copies every table it touches (the whole table, on every transaction, which made a run's
    cost grow with the square of its documents); `make_atomic_writes` snapshots the items instead."""

    def __init__(self) -> None:
        from moto.dynamodb.models.table import Table

        self._table = Table

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, self._table) else copy.deepcopy(value, memo)


def make_atomic_writes(backend: Any) -> dict[str, Callable[..., Any]]:
    """Patch 7: DynamoDB applies a conditional write or a transaction atomically; moto checks and
    writes in separate steps, so two twin executions racing for the same item (a half-open probe,
    a duplicate upload) could both pass a condition only one may pass. One lock serialises the
    backend's writes. A failed transaction restores the items it touched, and only those, so a
    concurrent write to another item is never rolled back with it."""
    lock = threading.RLock()

    def serialised(name: str) -> Callable[..., Any]:
        original = getattr(backend, name)

        def write(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(self, *args, **kwargs)

        return write

    original_transact = backend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with lock:
            saved = []
            for entry in transact_items:
                _, op = next(iter(entry.items()))
                table = self.tables.get(op.get("TableName"))
                if table is None:
                    continue
                key = op.get("Key") or {name: op.get("Item", {}).get(name)
                                        for name in (table.hash_key_attr, table.range_key_attr) if name}
                try:
                    hash_value, range_value = self.get_keys_value(table, key)
                except Exception:  # noqa: BLE001 - a malformed key is the transaction's own error to raise
                    continue
                saved.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
            try:
                return original_transact(self, transact_items)
            except Exception:
                for table, hash_value, range_value, item in reversed(saved):
                    table.delete_item(hash_value, range_value)
                    if item is not None and range_value:
                        table.items[hash_value][range_value] = item
                    elif item is not None:
                        table.items[hash_value] = item
                raise

    return {"put_item": serialised("put_item"), "update_item": serialised("update_item"),
            "delete_item": serialised("delete_item"), "transact_write_items": transact_write_items}


def apply(stack: ExitStack, *, dispatch: Dispatcher, on_wait: Callable[..., None],
          on_retry_sleep: Callable[..., None], clock: Callable[[], float] | None = None,
          on_wait_until: Callable[..., None] | None = None,
          on_execution: tuple[Callable[[str], None], Callable[[str], None]] | None = None) -> None:
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
    stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", make_wait_interval(on_wait, on_wait_until, clock)))
    stack.enter_context(mock.patch.object(retrier_decl, "time", _RetryTime(on_retry_sleep)))
    from moto.dynamodb import models as dynamodb_models
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    if on_execution is not None:
        stack.enter_context(mock.patch.object(ExecutionWorker, "_execution_logic", make_execution_logic(
            ExecutionWorker._execution_logic, *on_execution)))

    for name, method in make_atomic_writes(dynamodb_models.DynamoDBBackend).items():
        stack.enter_context(mock.patch.object(dynamodb_models.DynamoDBBackend, name, method))
    stack.enter_context(mock.patch.object(dynamodb_models, "copy", _TablesNotCopied()))
    stack.enter_context(mock.patch.object(
        AmazonStateLanguageParser, "parse", staticmethod(make_cached_parse(AmazonStateLanguageParser.parse))))
    # Patch 6: jsonpath_ng builds a new yacc parser for every parse(); a parsed path is immutable.
    stack.enter_context(mock.patch.object(json_path, "parse", functools.lru_cache(maxsize=1024)(json_path.parse)))
    if clock is not None:
        shim = _StatesDatetime(clock)
        stack.enter_context(mock.patch.object(state, "datetime", shim))
        stack.enter_context(mock.patch.object(timestamp, "datetime", shim))
