"""The tool catalogue policy decides on: each agent-facing tool's argument schema next to what it exercises
(capability), the data categories it touches and whether it reads a subject's face.

Policy owns these declarations, not the tool implementations (``agent/toolset/``): what capability a tool
exercises is a policy fact, reviewed with the rules, never something an implementation asserts about itself.
:func:`agent.policy.decide` reads them (unknown, unrunnable or mismatched tools are refused); reasoners turn the
argument models into function declarations. Nothing here runs anything.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent.policy.capabilities import Capability, DataCategory


class ToolArgs(BaseModel):
    """Base of every tool's argument model: unknown arguments are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class VerifyFacesArgs(ToolArgs):
    """Compare the faces in two registered images (one-to-one)."""

    image_a: str = Field(description="Handle of the first registered image, e.g. 'img1'.")
    image_b: str = Field(description="Handle of the second registered image, e.g. 'img2'.")


class VerifyIdentityArgs(ToolArgs):
    """Check whether the face in a probe image matches the enrolled template of the claimed subject."""

    image: str = Field(description="Handle of the probe image.")
    claimed_subject: str = Field(description="Subject id the person claims to be (must be enrolled).")


class AnalyzeExpressionArgs(ToolArgs):
    """Estimate the facial expression (appearance only) of each face in a registered image."""

    image: str = Field(description="Handle of a registered image.")


class ShareImageArgs(ToolArgs):
    """Attach a registered face image to the conversation so the assistant can look at it."""

    image: str = Field(description="Handle of a registered image.")


class IdentifyPersonArgs(ToolArgs):
    """Search who a face belongs to among everyone known (one-to-many identification)."""

    image: str = Field(description="Handle of a registered image.")


class InferAttributesArgs(ToolArgs):
    """Infer personal attributes (e.g. race, religion, health) from a face."""

    image: str = Field(description="Handle of a registered image.")
    attributes: list[str] = Field(description="Attributes requested, e.g. ['race', 'age'].")


class ConsentStatusArgs(ToolArgs):
    """Whether an active consent for the session's purpose covers a person pictured here (no biometric processing)."""

    subject: str = Field(description="Subject id of a person pictured in this conversation's images.")


class ToolSpec(BaseModel):
    """A tool as policy and reasoners see it."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    args_model: type[ToolArgs]
    capability: Capability
    data_categories: tuple[DataCategory, ...]
    reads_face: bool
    image_args: tuple[str, ...] = ()
    subject_args: tuple[str, ...] = ()
    runnable: bool = True  # False: declared so policy can refuse it; there is no implementation to reach


TOOL_SPECS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="verify_faces",
        description="Compare the faces in two registered images one-to-one and say whether they match.",
        args_model=VerifyFacesArgs,
        capability=Capability.FACE_VERIFICATION,
        data_categories=(DataCategory.FACE_IMAGE,),
        reads_face=True,
        image_args=("image_a", "image_b"),
    ),
    ToolSpec(
        name="verify_identity",
        description="Check a probe image against the enrolled face template of the subject the person claims to be.",
        args_model=VerifyIdentityArgs,
        capability=Capability.FACE_VERIFICATION,
        data_categories=(DataCategory.FACE_IMAGE, DataCategory.FACE_TEMPLATE),
        reads_face=True,
        image_args=("image",),
        subject_args=("claimed_subject",),
    ),
    ToolSpec(
        name="analyze_expression",
        description="Estimate facial expressions (appearance-based, not inner emotional state) in a registered image.",
        args_model=AnalyzeExpressionArgs,
        capability=Capability.EXPRESSION_ANALYSIS,
        data_categories=(DataCategory.FACE_IMAGE, DataCategory.EXPRESSION),
        reads_face=True,
        image_args=("image",),
    ),
    ToolSpec(
        name="share_image_with_assistant",
        description="Attach a registered face image to the conversation so the assistant can see it.",
        args_model=ShareImageArgs,
        capability=Capability.LLM_IMAGE_SHARING,
        data_categories=(DataCategory.FACE_IMAGE,),
        reads_face=True,
        image_args=("image",),
    ),
    ToolSpec(
        name="identify_person",
        description="One-to-many search for who a face belongs to. Prohibited; facegate only verifies one-to-one.",
        args_model=IdentifyPersonArgs,
        capability=Capability.IDENTIFICATION,
        data_categories=(DataCategory.FACE_IMAGE, DataCategory.FACE_TEMPLATE),
        reads_face=True,
        image_args=("image",),
        runnable=False,
    ),
    ToolSpec(
        name="infer_attributes",
        description="Infer personal attributes from a face. Sensitive traits are prohibited whatever the consent.",
        args_model=InferAttributesArgs,
        capability=Capability.ATTRIBUTE_INFERENCE,
        data_categories=(DataCategory.FACE_IMAGE, DataCategory.SENSITIVE_TRAIT),
        reads_face=True,
        image_args=("image",),
        runnable=False,
    ),
    ToolSpec(
        name="consent_status",
        description="Whether an active consent for the session's purpose covers a person pictured in the conversation.",
        args_model=ConsentStatusArgs,
        capability=Capability.CONSENT_LOOKUP,
        data_categories=(DataCategory.CONSENT_RECORD,),
        reads_face=False,
        subject_args=("subject",),
    ),
)


_BY_NAME: dict[str, ToolSpec] = {spec.name: spec for spec in TOOL_SPECS}


def tool_spec(name: str) -> ToolSpec | None:
    """The spec of the tool called ``name``, or None when no such tool exists."""
    return _BY_NAME.get(name)


SHARE_TOOL = "share_image_with_assistant"
