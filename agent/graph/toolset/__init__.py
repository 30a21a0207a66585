"""Tools as objects: one module per tool (its run and audit figures, against its policy declaration)."""

from agent.graph.toolset.base import Tool, ToolContext, ToolRequest
from agent.graph.toolset.registry import ToolRegistry, default_registry

__all__ = ["Tool", "ToolContext", "ToolRegistry", "ToolRequest", "default_registry"]
