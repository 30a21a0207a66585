"""The face engine's interface: what the agent, enrollment, the evaluations and the test fakes rely on.

:class:`tools.engine.FaceEngine` implements it; so do the fast fake in ``tests/fakes.py`` and the benchmark's
no-op engine. Every method returns the real result models of :mod:`tools.results`, never dicts. It lives on the
ground floor, beside the engine, so that anything above can depend on it without depending on DeepFace.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tools.images import ImageSource, LoadedImage
    from tools.results import (
        DetectionResult,
        EmbeddingRecipe,
        ExpressionResult,
        FaceEmbedding,
        FaceReference,
        VerificationResult,
    )


class FaceEngineProtocol(Protocol):
    """One face engine: load (and hash) images, embed, verify, analyse expressions, forget cached data."""

    def load(self, source: ImageSource) -> LoadedImage: ...

    def detect(self, source: ImageSource) -> DetectionResult: ...

    def embed(self, source: ImageSource, *, require_single_face: bool | None = None) -> FaceEmbedding: ...

    def single_out(
        self, source: ImageSource, reference: FaceReference, *, threshold: float | None = None
    ) -> FaceEmbedding: ...

    def verify(
        self,
        a: ImageSource,
        b: ImageSource,
        *,
        require_single_face: bool | None = None,
        threshold: float | None = None,
        reference_a: FaceReference | None = None,
        reference_b: FaceReference | None = None,
    ) -> VerificationResult: ...

    def verify_against_template(
        self,
        probe: ImageSource,
        template: Sequence[float],
        *,
        template_model: str,
        template_detector: str,
        threshold: float | None = None,
        template_recipe: EmbeddingRecipe | None = None,
        subject: str | None = None,
        single_out: bool = False,
    ) -> VerificationResult: ...

    def analyze_expression(
        self,
        source: ImageSource,
        *,
        single: bool = False,
        reference: FaceReference | None = None,
        threshold: float | None = None,
    ) -> ExpressionResult: ...

    def default_threshold(self) -> float:
        """The distance threshold verifications use unless told otherwise (the operator's, else the model's)."""
        ...

    def model_threshold(self) -> float:
        """The face model's own threshold for its metric, whatever the operator set."""
        ...

    def forget(self, sha256: str) -> bool | None:
        """Drop what is cached for the image with this content hash (its embedding)."""
        ...
