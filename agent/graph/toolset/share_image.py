"""``share_image_with_assistant``: let the reasoner see a registered face image from now on.

Running it only records the permission; every model request that then carries the image is decided again
and audited as a disclosure (:mod:`agent.graph.guards.shared_images`). An image showing several faces is never
shared: the whole picture would go, bystanders' faces included.
"""

from __future__ import annotations

from agent.errors import FacesNotCovered
from agent.graph.messages import ShareResult
from agent.graph.toolset.base import Tool, ToolContext, ToolRequest
from agent.policy.bystanders import RULE_ID, sharing_refused
from agent.policy.tool_specs import SHARE_TOOL, ShareImageArgs


class ShareImage(Tool[ShareImageArgs, ShareResult]):
    name = SHARE_TOOL
    args_model = ShareImageArgs

    def run(self, ctx: ToolContext, request: ToolRequest[ShareImageArgs]) -> ShareResult:
        (image,) = request.images
        loaded = ctx.vault.get(image.sha256)  # fails if the pixels are gone from this process
        faces = len(ctx.engine.detect(loaded).faces)
        if faces > 1:
            raise FacesNotCovered(
                sharing_refused(image.handle, image.subject, faces), rule_id=RULE_ID, image=image.handle,
                subject=image.subject, faces_seen=faces, faces_analysed=0,
            )  # fmt: skip
        return ShareResult(handle=image.handle)

    def shares(self, request: ToolRequest[ShareImageArgs], result: ShareResult) -> tuple[str, ...]:
        return (result.handle,)
