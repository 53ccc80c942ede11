"""The sink's pure half: what a Kafka batch becomes before ClickHouse sees it (ecc.sink stores it).

Decoding (a message that is not an event is a dead letter itself), duplicates inside the batch, inserts cut
so that none spans more than PARTITION_LIMIT partitions (ClickHouse refuses more than 100), bisection of an
insert refused for good down to the rows refused, and the dead letters of those rows. No I/O here.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from ecc import timeutil
from ecc.contract import pii
from ecc.contract.events import Event, Rejection
from ecc.olap.faults import TransientFault, as_fault, describe

log = logging.getLogger("ecc.sink")  # the sink's own log: these are its decisions
PARTITION_LIMIT = 90  # ClickHouse's max_partitions_per_insert_block is 100: keep a margin
RAW_LIMIT = 4000  # characters of a dead letter's raw copy (as at the door)


def first_by_id(items: list, ident) -> list:
    """Keep the first item per id, in arrival order (a second event with a seen event_id is a redelivery)."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = ident(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def event_partition(event: Event) -> str:
    """The `events` partition of an event: toYYYYMM(ts, 'Asia/Shanghai')."""
    try:
        return timeutil.to_local(event.ts_ms).strftime("%Y%m")
    except (OverflowError, ValueError, OSError, TypeError):
        return "invalid"  # the insert will refuse it and it becomes a dead letter


def reject_partition(rejection: Rejection) -> str:
    """The `rejects` partition of a dead letter: toYYYYMM(received_at) in UTC."""
    try:
        return datetime.fromtimestamp(rejection.received_ms / 1000, tz=UTC).strftime("%Y%m")
    except (OverflowError, ValueError, OSError, TypeError):
        return "invalid"


def by_partition(items: list, partition: Callable, limit: int = PARTITION_LIMIT) -> list[list]:
    """Chunks of `items`, each spanning at most `limit` partitions (items of one partition stay together)."""
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(partition(item), []).append(item)
    chunks: list[list] = []
    for n, group in enumerate(groups.values()):
        if n % limit == 0:
            chunks.append([])
        chunks[-1].extend(group)
    return chunks


def store_bisect(items: list, insert: Callable[[list], int], still_missing: Callable[[list], list]
                 ) -> tuple[int, list[tuple[object, str]]]:
    """Insert `items`; on a permanent fault split them in halves until each refused item is alone.

    Returns (rows stored, [(refused item, the store's reason)]). A transient fault is raised as
    TransientFault: the caller retries the whole batch later. After a failed insert of several
    partitions some of them may have been written, so the halves are filtered by `still_missing` first.
    """
    try:
        return insert(items), []
    except Exception as exc:  # classified just below: nothing is swallowed
        fault = as_fault(exc)
        if isinstance(fault, TransientFault):
            raise fault from exc
    if len(items) == 1:
        return 0, [(items[0], fault.reason)]
    items = still_missing(items)
    if not items:
        return 0, []
    if len(items) == 1:
        return store_bisect(items, insert, still_missing)
    mid = len(items) // 2
    left = store_bisect(items[:mid], insert, still_missing)
    right = store_bisect(items[mid:], insert, still_missing)
    return left[0] + right[0], left[1] + right[1]


def dead_letter_id(*parts: object) -> str:
    """Stable per refused row: a redelivered batch refused again is dead-lettered once."""
    return "sink-" + hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]


def dead_letter(event: Event, reason: str, now_ms: int) -> Rejection:
    """The dead letter of an event ClickHouse refused (its phones were masked at the door; masked again)."""
    raw = pii.mask_text(event.to_json().decode("utf-8", "replace"))[:RAW_LIMIT]
    return Rejection(reason=pii.mask_text(f"ClickHouse refused the event: {reason}"), raw=raw, source="sink",
                     received_ms=now_ms, reject_id=dead_letter_id("event", event.event_id))


def undecodable(topic: str, partition: int, offset: int, value: bytes | None, error: BaseException,
                now_ms: int) -> Rejection:
    """The dead letter of a message that is not an event (or a dead letter) at all."""
    raw = pii.mask_text((value or b"").decode("utf-8", "replace"))[:RAW_LIMIT]
    return Rejection(reason=pii.mask_text(f"not a stored event on {topic}: {describe(error, 300)}"), raw=raw,
                     source="sink", received_ms=now_ms, reject_id=dead_letter_id(topic, partition, offset))


def _checked(item: Event | Rejection, text_fields: tuple[str, ...]) -> Event | Rejection:
    """The item if its ids are strings and it serialises to UTF-8, else TypeError/ValueError: a wrong id
    type or a lone surrogate would otherwise fail the existence check of the whole batch, every time."""
    for name in text_fields:
        if not isinstance(getattr(item, name), str):
            raise TypeError(f"{name} must be a string, got {type(getattr(item, name)).__name__}")
    item.to_json()
    return item


def decode(messages: list, event_topics: tuple[str, ...], now_ms: int) -> tuple[list[Event], list[Rejection]]:
    """Events (today's and history topics) and dead letters of a batch; a message that is neither becomes a
    dead letter itself."""
    events: list[Event] = []
    rejections: list[Rejection] = []
    for m in messages:
        try:
            if m.topic() in event_topics:
                events.append(_checked(Event.from_json(m.value()), ("event_id", "type")))
            else:
                rejection = _checked(Rejection.from_json(m.value()), ("reject_id", "reason", "raw", "source"))
                rejections.append(rejection)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            log.error("undecodable message %s[%s]@%s: %s", m.topic(), m.partition(), m.offset(),
                      describe(exc))
            rejections.append(undecodable(m.topic(), m.partition(), m.offset(), m.value(), exc, now_ms))
    return events, rejections
