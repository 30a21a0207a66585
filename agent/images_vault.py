"""An in-process vault of decoded images keyed by sha256.

Pixels never enter the agent's state or checkpoints: the state holds handles, and the tools node resolves a
handle's sha256 here. The vault lives as long as the SDK object that owns it; a conversation resumed in
another process must attach its images again.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from agent.errors import NotFoundError

if TYPE_CHECKING:
    from tools.images import LoadedImage


class ImageVault:
    """Thread-safe map sha256 -> decoded image (``LoadedImage``), with optional original bytes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._images: dict[str, LoadedImage] = {}
        self._raw: dict[str, bytes] = {}

    def put(self, image: LoadedImage, raw: bytes | None = None) -> str:
        with self._lock:
            self._images[image.sha256] = image
            if raw is not None:
                self._raw[image.sha256] = raw
        return image.sha256

    def get(self, sha256: str) -> LoadedImage:
        with self._lock:
            image = self._images.get(sha256)
        if image is None:
            raise NotFoundError("that image is no longer held in this process; attach it again", sha256=sha256[:12])
        return image

    def raw(self, sha256: str) -> bytes | None:
        with self._lock:
            return self._raw.get(sha256)

    def drop(self, sha256: str) -> bool:
        """Forget an image (``do_not_retain_probe``). True when it was held."""
        with self._lock:
            self._raw.pop(sha256, None)
            return self._images.pop(sha256, None) is not None

    def __contains__(self, sha256: Any) -> bool:
        with self._lock:
            return sha256 in self._images

    def __len__(self) -> int:
        with self._lock:
            return len(self._images)

    def __repr__(self) -> str:  # never the pixels
        return f"ImageVault(images={len(self)})"
