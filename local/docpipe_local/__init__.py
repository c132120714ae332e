"""docpipe's local tooling: the local twin, the Textract-compatible engine and the `docpipe` CLI."""
