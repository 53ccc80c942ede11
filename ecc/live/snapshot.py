"""Pure half of the live store: Redis hashes in, wall snapshot out (events in, Lua records out: see
ecc.live.live_codec).

The Redis half (`ecc.live.live_store`) only moves these values to and from the server.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from ecc import timeutil
from ecc.contract import catalogue, metrics


def live_days(today: date, days: int) -> list[str]:
    """Day keys the live store keeps, newest first: today and the `days - 1` before."""
    return [(today - timedelta(days=n)).strftime("%Y%m%d") for n in range(days)]


# ---- reading: raw hash values to the wall snapshot ----

def _money(fen: int) -> str:
    return str((Decimal(fen) / 100).quantize(Decimal("0.01")))


def _counts(counters: dict[str, int], suffix: str = "") -> dict:
    """The totals of one channel (suffix "|douyin") or of all (suffix "") from the day's counter hash."""
    def get(name: str) -> int:
        return counters.get(name + suffix, 0)
    dep_in, dep_out = get("deposit_in_fen"), get("deposit_out_fen")
    return {
        "leads": get("leads"),
        "dialed_leads": get("dialed_leads"),
        "connected_leads": get("connected_leads"),
        "reach": {str(k): get(f"reach:{k}") for k in catalogue.STEPS},
        "rejects": {str(k): get(f"rejects:{k}") for k in catalogue.STEPS},
        "opened": get(f"reach:{catalogue.OPENED_STEP}"),
        "opened_deposited": get("opened_deposited"),
        "first_deposits": get("first_deposits"),
        "deposit_amount": _money(dep_in),
        "withdraw_amount": _money(dep_out),
        "net_inflow": _money(dep_in - dep_out),
        "trade_amount": {p: _money(get(f"trade_fen:{p}")) for p in catalogue.PRODUCTS},
        "calls": get("calls"),
    }


def _ratios(totals: dict) -> dict:
    """The wall's ratios, by the formulas of ecc.contract.metrics (the same the drill-down uses)."""
    def by_step(values: dict[str, int]) -> dict[int, int]:
        return {int(k): v for k, v in values.items()}
    return metrics.kpi_ratios(
        leads=totals["leads"], dialed_leads=totals["dialed_leads"], connected_leads=totals["connected_leads"],
        reach=by_step(totals["reach"]), rejects=by_step(totals["rejects"]),
        opened_accounts=totals["opened"], deposited_accounts=totals["opened_deposited"],
        trade_by_product={p: Decimal(v) for p, v in totals["trade_amount"].items()})


def channels_in(counters: dict[str, int]) -> list[str]:
    return sorted({field.split("|", 1)[1] for field in counters if "|" in field})


def snapshot(day: date, counters: dict[str, int], minutes: dict[str, int], previous: dict[str, int],
             fresh_ms: int | None, now_ms: int, ingest_rate: float,
             reject_rate: float) -> dict:
    """Everything the wall shows for `day`, from the raw Redis values (see ecc/live.lua)."""
    totals = _counts(counters)
    by_channel = {}
    for ch in channels_in(counters):
        row = _counts(counters, "|" + ch)
        row.update({"dial_rate": metrics.dial_rate(row["dialed_leads"], row["leads"]),
                    "open_rate": metrics.open_rate(row["opened"], row["leads"])})
        by_channel[ch] = row
    series: dict[str, list] = {"leads": [], "opened": [], "deposit_amount": [], "calls": []}
    source = {"leads": "leads", f"reach:{catalogue.OPENED_STEP}": "opened",
              "deposit_in_fen": "deposit_amount", "calls": "calls"}
    for field in sorted(minutes, key=lambda f: f.rsplit("@", 1)[1]):
        name, minute = field.rsplit("@", 1)
        if name in source:
            value = minutes[field]
            series[source[name]].append([minute, _money(value) if name == "deposit_in_fen" else value])
    previous_totals = _counts(previous)
    return {
        "day": day.isoformat(),
        "generated_at": timeutil.to_local(now_ms).isoformat(timespec="seconds"),
        "totals": totals,
        "ratios": _ratios(totals),
        "by_channel": by_channel,
        "series": series,
        "previous_day": {"leads": previous_totals["leads"], "opened": previous_totals["opened"]},
        "freshness_s": None if fresh_ms is None else max(0.0, (now_ms - fresh_ms) / 1000),
        "ingest_rate": ingest_rate,
        "reject_rate": reject_rate,
    }
