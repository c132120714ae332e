"""In-process Lambda runtime: runs the template's handlers with their own environment."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import itertools
import json
import logging
import os
import threading
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

_instance_ids = itertools.count(1)


@dataclass
class FunctionSpec:
    """One AWS::Serverless::Function as the twin runs it."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    memory_mb: int
    timeout_s: int


@dataclass
class FakeLambdaContext:
    """The attributes of the Lambda context object that Powertools and handlers read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local-twin"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_s * 1000


class UnknownFunction(LookupError):
    """A Lambda invoke named a function the template does not define."""


class FunctionRuntime:
    """Imports each function's `app.py` once per twin and calls its handler.

    Invocations are serialised: each handler sees exactly its own template environment (Globals +
    its Environment) in os.environ while it runs, as it would in its own Lambda sandbox.
    """

    def __init__(self, log_stream: TextIO | None) -> None:
        self._specs: dict[str, FunctionSpec] = {}
        self._modules: dict[str, ModuleType] = {}
        self._lock = threading.RLock()
        self._created: set[str] = set()
        self.log_stream = log_stream
        self._prefix = f"docpipe_twin_fn{next(_instance_ids)}"
        self.invocations: list[tuple[str, bool]] = []
        self.metrics: list[dict[str, Any]] = []

    def register(self, spec: FunctionSpec) -> None:
        """Register a function; its environment variables now exist in os.environ, empty until it runs.

        Keys are only ever assigned from here on, never added or removed: botocore iterates
        os.environ (proxy lookup) whenever a client is created, in moto's execution threads too,
        and a key removed mid-iteration raises KeyError there.
        """
        self._specs[spec.name] = spec
        self._specs[spec.arn] = spec
        for key in spec.environment:
            if key not in os.environ:
                os.environ[key] = ""
                self._created.add(key)

    def close(self) -> None:
        """Remove the environment keys `register` created (call once no execution runs)."""
        for key in self._created:
            os.environ.pop(key, None)
        self._created.clear()

    def spec(self, name_or_arn: str) -> FunctionSpec:
        spec = self._specs.get(name_or_arn) or self._specs.get(name_or_arn.split(":function:")[-1].split(":")[0])
        if spec is None:
            raise UnknownFunction(name_or_arn)
        return spec

    def _module(self, spec: FunctionSpec) -> ModuleType:
        if spec.logical_id in self._modules:
            return self._modules[spec.logical_id]
        module_file, _ = spec.handler.rsplit(".", 1)
        path = spec.code_dir / f"{module_file}.py"
        # A fresh module per twin: module-scope boto3 clients bind to this twin's session and engine.
        name = f"{self._prefix}_{spec.logical_id}"
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise UnknownFunction(f"{spec.logical_id}: cannot load {path}")
        module = importlib.util.module_from_spec(loader_spec)
        loader_spec.loader.exec_module(module)
        self._modules[spec.logical_id] = module
        self._route_logs(spec)
        return module

    def _route_logs(self, spec: FunctionSpec) -> None:
        """Send the functions' Powertools JSON logs to the twin's log file, not the user's terminal."""
        if self.log_stream is None:
            return
        service = spec.environment.get("POWERTOOLS_SERVICE_NAME", "service_undefined")
        for handler in logging.getLogger(service).handlers:
            if isinstance(handler, logging.StreamHandler):
                # Not setStream(): it flushes the previous stream, which an earlier twin may have closed.
                with handler.lock:
                    handler.stream = self.log_stream

    def _collect(self, printed: str) -> None:
        """Keep the EMF metric documents; anything else a handler printed goes to the log."""
        for line in printed.splitlines():
            try:
                document = json.loads(line)
            except ValueError:
                document = None
            if isinstance(document, dict) and "_aws" in document:
                self.metrics.append(document)
            elif self.log_stream is not None and line.strip():
                self.log_stream.write(line + "\n")

    def invoke(self, name_or_arn: str, payload: bytes) -> Any:
        """Run the handler on the JSON payload; exceptions propagate unchanged (errorType = class name)."""
        spec = self.spec(name_or_arn)
        event = json.loads(payload or b"{}")
        with self._lock:
            previous = {k: os.environ.get(k) for k in spec.environment}
            os.environ.update(spec.environment)
            ok = False
            try:
                module = self._module(spec)
                handler = getattr(module, spec.handler.rsplit(".", 1)[1])
                context = FakeLambdaContext(spec.name, spec.arn, spec.memory_mb, spec.timeout_s)
                printed = io.StringIO()
                try:
                    # Powertools Metrics prints EMF documents to stdout, where CloudWatch would pick them up.
                    with contextlib.redirect_stdout(printed), warnings.catch_warnings():
                        # A handler that records no metric on some path is normal, not worth a warning.
                        warnings.filterwarnings("ignore", message="No application metrics to publish")
                        result = handler(event, context)
                finally:
                    self._collect(printed.getvalue())
                ok = True
                return result
            finally:
                self.invocations.append((spec.logical_id, ok))
                for key, value in previous.items():
                    os.environ[key] = value or ""
