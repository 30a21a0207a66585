"""Recording evaluation runs in facegate's audit log (kind ``eval_run``): what was run, on which data
(by hash), with which settings, and the headline figures. Never images, never embeddings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.settings import Settings


def record_eval_run(
    settings: Settings, *, eval_kind: str, dataset_sha256: str, summary: dict[str, Any]
) -> dict[str, Any]:
    """Append one ``eval_run`` event; return ``{"recorded": True, "seq": ...}`` (or why it was not recorded).

    Storage errors propagate (an audit that silently fails is worse than a failed run); only a facegate build
    without the store package reports ``recorded: False``.
    """
    try:
        from agent.store import Store
    except ImportError:
        return {"recorded": False, "reason": "audit store not available in this build"}
    store = Store.from_settings(settings)  # SQLite: creates the home owner-only when missing
    try:
        entry = store.writer.eval_run(
            actor=settings.actor, eval_kind=eval_kind, dataset_sha256=dataset_sha256, summary=summary
        )
    finally:
        store.close()
    return {"recorded": True, "seq": entry.seq, "db": store.location}
