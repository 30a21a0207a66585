"""``share_image_with_assistant``: let the reasoner see a registered face image from now on.

Running it only records the permission; every model request that then carries the image is decided again
and audited as a disclosure (:mod:`agent.graph.guards.shared_images`).
"""

from __future__ import annotations

from agent.graph.messages import ShareResult
from agent.graph.toolset.base import Tool, ToolContext, ToolRequest
from agent.policy.tool_specs import SHARE_TOOL, ShareImageArgs


class ShareImage(Tool[ShareImageArgs, ShareResult]):
    name = SHARE_TOOL
    args_model = ShareImageArgs

    def run(self, ctx: ToolContext, request: ToolRequest[ShareImageArgs]) -> ShareResult:
        (image,) = request.images
        ctx.vault.get(image.sha256)  # fails if the pixels are gone from this process
        return ShareResult(handle=image.handle)

    def shares(self, request: ToolRequest[ShareImageArgs], result: ShareResult) -> tuple[str, ...]:
        return (result.handle,)
