"""The tools the graph can run, by name: the tools node dispatches through here, never through an if-chain.

Adding a tool: declare it in :mod:`agent.policy.tool_specs` (what it exercises, for policy), write its module
here (a :class:`~agent.graph.toolset.base.Tool`), list it in :func:`default_tools`, and test it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.errors import ConfigError
from agent.graph.toolset.base import Tool
from agent.policy.tool_specs import TOOL_SPECS, ToolSpec

AnyTool = Tool[Any, Any]


class ToolRegistry:
    """The declared tools (what the reasoner is offered) and the runnable ones among them.

    Declared but unrunnable tools (``identify_person``, ``infer_attributes``) are offered on purpose: a request
    for them reaches policy, which refuses it with a rule id and an audit row.
    """

    def __init__(self, specs: Sequence[ToolSpec], tools: Sequence[AnyTool]) -> None:
        self.specs: tuple[ToolSpec, ...] = tuple(specs)
        self._specs = {s.name: s for s in self.specs}
        self._tools: dict[str, AnyTool] = {}
        for tool in tools:
            spec = self._specs.get(tool.name)
            if spec is None or not spec.runnable or tool.args_model is not spec.args_model:
                raise ConfigError(f"tool {tool.name!r} does not match a runnable declaration of the same schema")
            if tool.name in self._tools:
                raise ConfigError(f"tool {tool.name!r} is registered twice")
            self._tools[tool.name] = tool
        unimplemented = sorted(s.name for s in self.specs if s.runnable and s.name not in self._tools)
        if unimplemented:
            raise ConfigError(f"runnable tools without an implementation: {', '.join(unimplemented)}")

    def spec(self, name: str) -> ToolSpec | None:
        return self._specs.get(name)

    def tool(self, name: str) -> AnyTool | None:
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]


def default_tools() -> list[AnyTool]:
    from agent.graph.toolset.analyze_expression import AnalyzeExpression
    from agent.graph.toolset.consent_status import ConsentStatus
    from agent.graph.toolset.share_image import ShareImage
    from agent.graph.toolset.verify_faces import VerifyFaces
    from agent.graph.toolset.verify_identity import VerifyIdentity

    return [VerifyFaces(), VerifyIdentity(), AnalyzeExpression(), ShareImage(), ConsentStatus()]


def default_registry() -> ToolRegistry:
    """Every tool facegate ships, against the policy's catalogue."""
    return ToolRegistry(TOOL_SPECS, default_tools())
