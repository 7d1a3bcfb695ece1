"""A local Gradio app with the SM4LL-VTON Space's `/generate` API, for demos, tests and benchmarks.

Importing this package does not import gradio; only starting a sandbox does.
"""

from vton_eval.sandbox.app import SandboxConfig, SandboxHandle, start_sandbox
from vton_eval.sandbox.composite import tryon_composite
from vton_eval.sandbox.rules import (
    MISSING_IMAGES_MESSAGE,
    NSFW_MESSAGE,
    SERVER_ERROR_MESSAGE,
    is_inappropriate,
    rate_limit_message,
    unknown_workflow_message,
)

__all__ = [
    "MISSING_IMAGES_MESSAGE",
    "NSFW_MESSAGE",
    "SERVER_ERROR_MESSAGE",
    "SandboxConfig",
    "SandboxHandle",
    "is_inappropriate",
    "rate_limit_message",
    "start_sandbox",
    "tryon_composite",
    "unknown_workflow_message",
]
