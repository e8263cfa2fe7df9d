"""Policies leave as ONNX: export (torch, onnx) and the runtime the robot uses (onnxruntime and numpy only).

`robolearn.export.runtime.PolicyRuntime` is importable without torch; the exporter lives in
`robolearn.export.onnx_export` and the C generator in `robolearn.export.c_codegen`.
"""

from robolearn.export.metadata import EXPORT_FORMAT_VERSION, MetadataError, PolicyMetadata
from robolearn.export.runtime import PolicyLoadError, PolicyMismatchError, PolicyRuntime

__all__ = ["EXPORT_FORMAT_VERSION", "MetadataError", "PolicyLoadError", "PolicyMetadata", "PolicyMismatchError",
           "PolicyRuntime"]
