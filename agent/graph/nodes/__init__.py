"""One module per node: ``reason``, ``policy``, ``tools`` and ``consent``."""

from agent.graph.nodes.consent import consent_node
from agent.graph.nodes.policy import make_policy_node
from agent.graph.nodes.reason import make_reason_node
from agent.graph.nodes.tools import make_tools_node

__all__ = ["consent_node", "make_policy_node", "make_reason_node", "make_tools_node"]
