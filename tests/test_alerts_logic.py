"""Pure logic of the alerts: statistics, detection, lifecycle, rule params and mute windows."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from ecc import timeutil
from ecc.alerts import detect, rules, stats
from ecc.alerts.detect import Share
from ecc.alerts.lifecycle import FIRING, PENDING, RESOLVED, advance

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timeutil.TZ)  # a Monday
CONV = rules.validate_params("step_conversion_drop", {"pending_s": 60, "resolve_s": 180, "alpha": 1e-4})


# ---- statistics ----

def test_two_proportion_test_matches_hand_computation():
    # 60/100 vs 700/1000: pooled 760/1100, se = sqrt(p(1-p)(1/100+1/1000)), se = 0.048468, z = -2.0632
    p = stats.two_proportion_p(60, 100, 700, 1000, "less")
    assert p == pytest.approx(0.01955, abs=1e-4)
    assert stats.two_proportion_p(60, 100, 700, 1000, "greater") == pytest.approx(1 - p)
    assert stats.two_proportion_p(0, 0, 5, 10) == 1.0


def test_mantel_haenszel_by_hand_and_against_the_pooled_test():
    # two strata: (10 of 100 vs 100 of 1000), (30 of 50 vs 330 of 500)
    # stratum 1: N=1100, m1=110, E=10, V=100*1000*110*990/(1100^2*1099)=8.1893
    # stratum 2: N=550, m1=360, E=32.727, V=50*500*360*190/(550^2*549)=10.2978; z=-2.727/sqrt(18.487)
    p = stats.mantel_haenszel_p([(10, 100, 100, 1000), (30, 50, 330, 500)], "less")
    assert p == pytest.approx(stats.upper_tail(2.72727 / 18.4871 ** 0.5), rel=1e-4)
    # one stratum: the pooled two-proportion test, up to sqrt((N-1)/N)
    one = stats.mantel_haenszel_p([(60, 100, 700, 1000)], "less")
    assert one == pytest.approx(stats.upper_tail(2.0632 * (1099 / 1100) ** 0.5), rel=1e-3)
    assert stats.mantel_haenszel_p([(0, 0, 5, 10)]) == 1.0


def test_a_younger_window_is_not_a_drop():
    """Traffic ramping up fills the window with leads who did the step a moment ago and have had no time
    to go on: pooled, their share looks like a collapse (0.20 vs 0.35); compared age by age it is none."""
    baseline = [Share(100, 1000), Share(600, 1000)]  # young leads 10% on already, older ones 60%
    window = [Share(80, 800), Share(120, 200)]  # four times as many young ones, the same rates
    assert stats.two_proportion_p(200, 1000, 700, 2000, "less") < 1e-15
    v = detect.conversion_drop(list(zip(window, baseline, strict=True)), CONV)
    assert not v.breach and v.p_value == pytest.approx(0.5, abs=0.05)
    assert v.observed == pytest.approx(0.2) and v.baseline == pytest.approx(0.2)  # standardised to the window
    worse = [Share(48, 800), Share(72, 200)]  # the same window converting 40% less
    assert detect.conversion_drop(list(zip(worse, baseline, strict=True)), CONV).breach


def test_wilson_upper_bound_known_value():
    # x=90, n=100, one-sided 97.5% (z=1.96): the textbook Wilson interval is [0.8256, 0.9448].
    assert stats.wilson_upper(90, 100, 0.025) == pytest.approx(0.9448, abs=1e-4)
    assert stats.wilson_upper(0, 0, 0.01) == 1.0


def test_rate_ratio_p_is_calibrated_under_equal_rates():
    """Under equal Poisson rates the one-sided p-value falls below 0.05 about 5% of the time."""
    rng = random.Random(3)

    def poisson(mean: float) -> int:
        count, t = 0, rng.expovariate(1.0)
        while t < mean:
            count, t = count + 1, t + rng.expovariate(1.0)
        return count
    hits = sum(stats.rate_ratio_p(poisson(100), 1, poisson(700), 7, "less") < 0.05 for _ in range(2000))
    assert 50 <= hits <= 150  # 5% of 2000 = 100


# ---- detection ----

def test_small_samples_never_fire_however_bad_the_rate():
    # 0 of 20 converted against 90% in the baseline: the rate collapsed, but 20 leads prove little.
    v = detect.conversion_drop([(Share(0, 20), Share(900, 1000))], CONV)
    assert not v.breach and not v.known


def test_a_real_drop_fires_and_a_small_wobble_does_not():
    drop = detect.conversion_drop([(Share(420, 600), Share(5400, 6000))], CONV)  # 0.70 vs 0.90
    assert drop.breach and drop.p_value < 1e-6 and drop.observed == pytest.approx(0.7)
    wobble = detect.conversion_drop([(Share(520, 600), Share(5400, 6000))], CONV)  # 0.867 vs 0.90
    assert not wobble.breach
    # significant but smaller than min_drop (15%): not worth waking anyone
    big = detect.conversion_drop([(Share(85_000, 100_000), Share(900_000, 1_000_000))], CONV)
    assert big.p_value < 1e-10 and not big.breach


def test_hysteresis_band_between_breach_and_recovery():
    # baseline 0.9, min_drop 0.15 -> breach at <= 0.765; recovered only from 0.9 * (1 - 0.075) = 0.8325
    between = detect.conversion_drop([(Share(480, 600), Share(5400, 6000))], CONV)  # 0.80
    assert not between.breach and not between.recovered
    back = detect.conversion_drop([(Share(510, 600), Share(5400, 6000))], CONV)  # 0.85
    assert back.recovered


def test_scan_a_short_window_sees_a_recent_drop_that_a_long_window_still_dilutes():
    # 4 minutes after a drop: the 4-minute window holds only leads after it (0.14 vs 0.20 censored share),
    # the 10-minute window mixes in six unaffected minutes (0.18): only the short one is evidence.
    short = (Share(112, 800), Share(1920, 9600))
    long = (Share(360, 2000), Share(4800, 24000))
    alone = detect.conversion_drop([long], CONV)
    assert not alone.breach
    v = detect.scan(detect.conversion_drop, [[short], [long]], CONV)
    assert v.breach and v.observed == pytest.approx(0.14) and v.sample == 800
    # the evidence's p-value is the short window's, times the two windows that were judged (Bonferroni)
    assert v.p_value == pytest.approx(2 * stats.mantel_haenszel_p([(112, 800, 1920, 9600)], "less"))
    assert not v.recovered  # recovered only when every judged window is back inside the band


def test_scan_windows_share_alpha_so_trying_more_windows_costs_no_false_alerts():
    # p ~ 8e-5 in one window: below alpha 1e-4 alone, not below alpha / 2 when two windows are judged
    current, baseline = Share(116, 800), Share(1920, 9600)
    p_one = stats.mantel_haenszel_p([(116, 800, 1920, 9600)], "less")
    assert 5e-5 < p_one < 1e-4
    alone = detect.scan(detect.conversion_drop, [[(current, baseline)]], CONV)
    assert alone.breach
    both = detect.scan(detect.conversion_drop,
                       [[(current, baseline)], [(Share(430, 2000), Share(4800, 24000))]], CONV)
    assert not both.breach
    # a window too thin to judge (n < min_sample) is not counted: alpha is not split for it
    thin = detect.scan(detect.conversion_drop, [[(Share(1, 40), Share(1920, 9600))], [(current, baseline)]],
                       CONV)
    assert thin.breach and thin.p_value == pytest.approx(p_one)
    nothing = detect.scan(detect.conversion_drop, [[(Share(1, 40), Share(5, 60))]], CONV)
    assert not nothing.known and not nothing.breach


def test_windows_of_a_rule():
    assert detect.windows_of(rules.validate_params("step_conversion_drop", {})) == [3, 4, 5, 6, 8, 10]
    assert detect.windows_of(rules.validate_params("step_conversion_drop",
                                                   {"scan_minutes": [], "window_minutes": 15})) == [15]
    # a shorter window_minutes leaves out the scan windows that are not shorter than it
    shorter = rules.validate_params("step_conversion_drop", {"window_minutes": 5})
    assert detect.windows_of(shorter) == [3, 4, 5]
    for bad in ([0], [1441], "4,6", [4.5], [True], list(range(1, 8))):
        with pytest.raises(rules.RuleError) as err:
            rules.validate_params("step_conversion_drop", {"scan_minutes": bad})
        assert err.value.detail == {"field": "params.scan_minutes"}


def test_volume_drop_and_spike():
    p_drop = rules.validate_params("lead_volume_drop", {})
    p_spike = rules.validate_params("lead_volume_spike", {})
    assert detect.volume_change(30, [100, 110, 95, 105], p_drop, "drop").breach
    assert not detect.volume_change(90, [100, 110, 95, 105], p_drop, "drop").breach
    assert detect.volume_change(260, [100, 110, 95, 105], p_spike, "spike").breach
    assert not detect.volume_change(4, [10, 12, 9], p_spike, "spike").known  # expected < min_expected


def test_dial_rate_against_target_uses_the_upper_bound():
    p = rules.validate_params("dial_rate_low", {})
    assert detect.dial_rate_low(Share(9000, 10_000), p).breach  # 90%: far below 98%
    assert not detect.dial_rate_low(Share(192, 200), p).breach  # 96% of 200: could still be 98%
    assert not detect.dial_rate_low(Share(9_800, 10_000), p).breach


def test_no_data_by_event_time_age():
    p = rules.validate_params("no_data", {"max_age_s": 120})
    now_ms = int(T0.timestamp() * 1000)
    assert detect.no_data(now_ms - 121_000, T0, p).breach
    fresh = detect.no_data(now_ms - 30_000, T0, p)
    assert not fresh.breach and fresh.recovered and fresh.observed == 30.0
    assert detect.no_data(None, T0, p).breach


def test_baseline_windows():
    p = rules.validate_params("step_conversion_drop", {"baseline": "same_time_recent_days", "recent_days": 3})
    assert detect.baseline_ends(p, T0) == [T0 - timedelta(days=d) for d in (1, 2, 3)]
    p = rules.validate_params("step_conversion_drop", {"baseline": "same_hour_last_week"})
    assert detect.baseline_ends(p, T0) == [T0 - timedelta(days=7)]
    p = rules.validate_params("step_conversion_drop", {"baseline": "trailing", "baseline_windows": 2,
                                                       "trailing_step_minutes": 10})
    assert detect.baseline_ends(p, T0) == [T0 - timedelta(minutes=10), T0 - timedelta(minutes=20)]


# ---- lifecycle ----

BREACH = detect.Verdict(True, False, True, 0.6, 0.9, 600, 1e-9)
STILL = detect.Verdict(False, False, True, 0.8, 0.9, 600, 0.01)  # not breached, not recovered
OK = detect.Verdict(False, True, True, 0.9, 0.9, 600, 0.5)


def run(verdicts, params=CONV, silenced=lambda i: False, start=None, step_s=10):
    tracked, out, now = start, [], T0
    for i, verdict in enumerate(verdicts):
        tracked, transition = advance(tracked, verdict, now, params, silenced(i))
        out.append((tracked.state if tracked else None, transition))
        now += timedelta(seconds=step_s)
    return tracked, out


def test_pending_then_firing_then_resolved_after_hysteresis():
    # pending 60 s, resolve after 180 s recovered: 10 s steps
    tracked, out = run([BREACH] * 7 + [OK] * 19)
    assert out[0] == (PENDING, None)
    assert out[6] == (FIRING, "firing") and [t for _, t in out].count("firing") == 1
    assert out[7] == (FIRING, None)  # recovered, but not for long enough
    assert out[25] == (RESOLVED, "resolved") and tracked.resolved_at is not None


def test_recovery_interrupted_restarts_the_hysteresis_clock():
    _, out = run([BREACH] * 7 + [OK] * 10 + [STILL] + [OK] * 18)
    assert out[-1] == (FIRING, None)
    _, out = run([BREACH] * 7 + [OK] * 10 + [STILL] + [OK] * 19)
    assert out[-1] == (RESOLVED, "resolved")


def test_a_blip_shorter_than_the_pending_period_never_fires():
    _, out = run([BREACH] * 3 + [OK])
    assert out[-1] == (None, None) and not any(t for _, t in out)


def test_repeat_interval_and_ack():
    tracked, out = run([BREACH] * 7 + [BREACH] * 360)  # one hour firing
    assert [t for _, t in out].count("repeat") == 1
    from dataclasses import replace
    acked = replace(tracked, acked=True)
    _, out = run([BREACH] * 400, start=acked)
    assert "repeat" not in [t for _, t in out]


def test_silenced_alert_fires_quietly_and_is_announced_when_the_silence_ends():
    _, out = run([BREACH] * 20, silenced=lambda i: i < 12)
    assert [t for _, t in out] == [None] * 12 + ["firing"] + [None] * 7
    # resolved while silenced and never announced: nothing to say
    _, out = run([BREACH] * 7 + [OK] * 19, silenced=lambda i: True)
    assert not any(t for _, t in out) and out[-1][0] == RESOLVED


# ---- rules ----

def test_params_defaults_merge_and_validation():
    merged = rules.validate_params("step_conversion_drop", {"min_drop": 0.3}, base={"window_minutes": 7})
    assert merged["min_drop"] == 0.3 and merged["window_minutes"] == 7 and merged["mute"] == CONV["mute"]
    for bad in ({"baseline": "yesterday"}, {"alpha": 2}, {"nonsense": 1}, {"mute": [{"days": "xyz"}]},
                {"mute": [{"days": "mon", "from": "25:00", "to": "26:00"}]}, {"per_channel": "yes"}):
        with pytest.raises(rules.RuleError):
            rules.validate_params("step_conversion_drop", bad)
    with pytest.raises(rules.RuleError):
        rules.validate_scope("lead_volume_drop", "douyin", 3)
    with pytest.raises(rules.RuleError):
        rules.validate_scope("step_conversion_drop", "Bad Channel", None)


def test_mute_windows_in_shanghai_time():
    p = {"mute": [{"days": "mon-fri", "from": "00:00", "to": "09:00"}, {"days": "sat-sun"}]}
    monday_8 = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
    assert rules.is_muted(p, monday_8)
    assert not rules.is_muted(p, monday_8 + timedelta(hours=1))
    assert rules.is_muted(p, datetime(2026, 11, 28, 12, 0, tzinfo=timeutil.TZ))  # Saturday
    assert not rules.is_muted({"mute": []}, monday_8)
    assert rules.is_muted({"mute": [], "mute_holidays": True}, monday_8, holiday=lambda d: True)
    assert rules.parse_days("fri-mon") == frozenset({4, 5, 6, 0})


def test_default_mutes_the_night_the_review_desk_and_holidays():
    """Step rules rest from 22:00 (the review desk closes: step 10 cannot convert until 08:30), the others
    from 22:30; volume and dial-rate rules also on public holidays (ecc.calendar), the step rules not."""
    from ecc import calendar

    conversion = rules.validate_params("step_conversion_drop", {})
    volume = rules.validate_params("lead_volume_drop", {})
    evening = datetime(2026, 11, 23, 21, 59, tzinfo=timeutil.TZ)
    assert not rules.is_muted(conversion, evening) and not rules.is_muted(volume, evening)
    assert rules.is_muted(conversion, evening + timedelta(minutes=1))
    assert not rules.is_muted(volume, evening + timedelta(minutes=1))
    assert rules.is_muted(volume, evening + timedelta(minutes=31))
    assert not rules.is_muted(conversion, T0.replace(hour=8, minute=30))
    national_day = datetime(2026, 10, 1, 11, 0, tzinfo=timeutil.TZ)
    assert rules.is_muted(volume, national_day, calendar.public_holiday)
    assert rules.is_muted(rules.validate_params("dial_rate_low", {}), national_day, calendar.public_holiday)
    assert not rules.is_muted(conversion, national_day, calendar.public_holiday)
    assert not rules.is_muted(volume, national_day + timedelta(days=7), calendar.public_holiday)
