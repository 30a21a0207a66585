"""What a tool is: its policy declaration (spec), its ``run`` and the figures its audit row carries.

A tool never decides whether it may run: :class:`agent.graph.gate.ToolGate` puts every call to policy first,
and runs a tool only with the allow decision made for that exact call. ``run`` gets the arguments already
validated, the image handles already resolved, and the obligations already turned into a threshold and a
purpose limit; it returns one of the typed results of :data:`agent.graph.messages.ToolResult`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar, cast

from pydantic import JsonValue

from agent.errors import ConfigError
from agent.graph.messages import ToolResultModel
from agent.policy.tool_specs import ToolArgs, ToolSpec, tool_spec

if TYPE_CHECKING:
    from agent.clock import Clock
    from agent.graph.messages import ImageHandle, ToolCall
    from agent.graph.state import Session
    from agent.images_vault import ImageVault
    from agent.policy.models import Policy
    from agent.settings import Settings
    from agent.store import Store
    from tools.protocol import FaceEngineProtocol

A = TypeVar("A", bound=ToolArgs)
R = TypeVar("R", bound=ToolResultModel)


class ToolContext(Protocol):
    """What a tool may use (the graph's :class:`agent.graph.deps.AgentDeps` provides it)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> Store: ...
    @property
    def engine(self) -> FaceEngineProtocol: ...
    @property
    def vault(self) -> ImageVault: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def policy(self) -> Policy: ...


@dataclass(frozen=True)
class ToolRequest(Generic[A]):
    """One allowed call, ready to run.

    Attributes:
        call: the call as the reasoner made it.
        args: its arguments, validated by the tool's argument model.
        images: the registered images its image arguments name, in the spec's ``image_args`` order.
        session: who runs the conversation and for what.
        threshold: the verification threshold the decision's obligations demand (None: the engine's own).
        purpose_limit: the only purpose whose records a consent lookup may show (``limit_to_purpose``).
    """

    call: ToolCall
    args: A
    images: tuple[ImageHandle, ...]
    session: Session
    threshold: float | None
    purpose_limit: str


class Tool(ABC, Generic[A, R]):
    """One runnable tool. Subclasses set ``name`` and ``args_model`` and implement :meth:`run`."""

    name: ClassVar[str]
    args_model: ClassVar[type[ToolArgs]]

    @property
    def spec(self) -> ToolSpec:
        """The policy's declaration of this tool (:mod:`agent.policy.tool_specs`)."""
        spec = tool_spec(self.name)
        if spec is None:
            raise ConfigError(f"tool {self.name!r} has no declaration in agent.policy.tool_specs")
        return spec

    def parse(self, call: ToolCall) -> A:
        """The call's arguments as this tool's argument model (raises pydantic's ValidationError)."""
        return cast(A, self.args_model.model_validate(call.args))  # args_model is A's class

    @abstractmethod
    def run(self, ctx: ToolContext, request: ToolRequest[A]) -> R:
        """Run the allowed call. Raise a :class:`tools.errors.FacegateError` for a refusal the person should hear."""

    def audit_summary(self, result: R) -> dict[str, JsonValue]:
        """The figures the ``tool_run`` audit row carries (never vectors, pixels or free text from a model)."""
        return {}

    def shares(self, request: ToolRequest[A], result: R) -> tuple[str, ...]:
        """Handles this run allowed the reasoner to see from now on (``llm_image_sharing``)."""
        return ()
