"""The local twin: the same template, ASL file and handlers, on moto in one process.

`docpipe_local.twin.twin.LocalTwin` is the entry point; submodules stay importable on their own.
"""
