"""What the web process holds: the settings and one client per store, made once at start-up.

Building them starts no background thread (besides the embedded sink, which the web process is configured
to own): the alert evaluator and the notification outbox sweeper belong to a long-running web process
only, and are started by `start_background()`: for gunicorn workers, `ecc web` and the demo's web, by the
gunicorn hook in ecc/auth/gunicorn_conf.py once the worker has loaded the app. A test, a benchmark or a
one-off command that builds services gets no evaluator judging rules and sending notifications behind it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from ecc import metadata
from ecc.config import Settings
from ecc.live.live_store import LiveStore
from ecc.olap import clickhouse
from ecc.web.answer_cache import AnswerCache, client_for

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    live: LiveStore
    ch: object  # the API's and the dashboard's client: clickhouse.ClientPool (chDB) or an HTTP client
    meta: object  # SQLAlchemy engine of the metadata database
    sink: object | None = None  # ecc.sink.Sink when this process owns the sink (embedded)
    alerts: object | None = None  # ecc.alerts.evaluator.EvaluatorThread (evaluates while it holds the lease)
    sweeper: object | None = None  # ecc.alerts.notify.Sweeper (resumes deliveries a restart interrupted)
    started_at: float = field(default_factory=time.time)
    _door: object | None = None
    _answers: AnswerCache | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        live = LiveStore.from_url(settings.redis_url, live_days=settings.live_days)
        # Many request threads: a pool of chDB clients (one lent per query), or the server's HTTP client.
        ch = clickhouse.connect_shared(settings.clickhouse)
        clickhouse.apply_schema(ch, settings.clickhouse_cluster)
        meta = metadata.connect(settings.metadata)
        metadata.migrate(meta)
        sink = None
        if settings.web_runs_sink:
            from ecc.sink import Sink

            # Its own client (a second handle on the same chDB engine, opened by the sink itself): chDB runs
            # queries of different handles at once, so a long drill-down on `ch` never stops the sink.
            sink = Sink(settings).start()
            log.info("ClickHouse sink runs in the web process (embedded chDB), on its own client")
        return cls(settings=settings, live=live, ch=ch, meta=meta, sink=sink)

    def start_background(self, sweep_interval: float = 15.0) -> None:
        """The threads of a long-running web process: the alert evaluator (every web process runs one, a
        Redis lease lets one evaluate; docs/alerts.md) and the outbox sweeper (docs/alerts.md
        "Notifications"). A failure to start one is logged, never a web process that does not serve."""
        with self._lock:
            if self.alerts is None:
                try:
                    from ecc.alerts import evaluator

                    self.alerts = evaluator.start(self)
                except Exception:
                    log.exception("alert evaluator not started")
            if self.sweeper is None:
                try:
                    from ecc.alerts import notify

                    self.sweeper = notify.start_sweeper(self.meta, self.settings, sweep_interval)
                    log.info("notification outbox sweeper started (every %.0f s)", sweep_interval)
                except Exception:
                    log.exception("notification outbox sweeper not started")

    @property
    def door(self):
        """The producer is made on first use: a dashboard that never ingests needs no broker link."""
        with self._lock:
            if self._door is None:
                from ecc.transport.ingest import Door

                self._door = Door(self.settings)
            return self._door

    @property
    def answers(self) -> AnswerCache:
        """The drill-down answer cache, shared through the live store's Redis by every web worker."""
        with self._lock:
            if self._answers is None:
                url = self.settings.redis_url
                self._answers = AnswerCache(client_for(url) if url else self.live.r,
                                            watermark_key=self.live.stored_key)
            return self._answers

    def close(self) -> None:
        if self.alerts is not None:
            self.alerts.stop()
        if self.sweeper is not None:
            self.sweeper.stop()
        if self.sink is not None:
            self.sink.stop()
