"""The local twin: the same template, ASL file and handlers, on moto in one process."""

from docpipe_local.twin.twin import LocalTwin, TwinError, Upload

__all__ = ["LocalTwin", "TwinError", "Upload"]
