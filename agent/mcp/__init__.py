"""facegate's policy-gated face tools for MCP hosts (``facegate mcp serve``; the optional extra ``facegate[mcp]``).

:mod:`agent.mcp.arguments` (what a host passes, and its bounds) and :mod:`agent.mcp.service` (the calls, through
:class:`agent.graph.gate.ToolGate`) need no MCP SDK; :mod:`agent.mcp.server` is the SDK's server around them.
Importing this package loads nothing.
"""
