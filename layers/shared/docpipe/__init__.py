"""docpipe: documents in, structured confidence-scored data out (shared Lambda layer package)."""

PROCESSOR_VERSION = "0.1.0"
