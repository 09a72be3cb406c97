"""The integrity signals' settings: every test's threshold, with its unit in its name and why its default.

A city of ~5,000 counters and ~10,000 staff tested over a quarter runs tens of thousands of tests per signal,
so the false-alarm rates below are per subject and small: a test at α = 1e-6 per counter raises about one
false flag in a hundred such quarters. Where a test scans many windows (bursts, silences, change points), the
scan's own multiplicity is accounted inside the test (docs/integrity.md says how, signal by signal).
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class IntegritySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    # -- hours: out_of_hours, no_staff, technician_mode ------------------------------------------
    grace_minutes: float = Field(30.0, ge=0, le=240)
    """Minutes around the opening hours in which a rating still counts as in hours: citizens inside at closing
    are still served (the demo's staff sign out up to 15 minutes after closing), and a device clock a few
    minutes off is not a manipulation."""
    out_of_hours_min_ratings: int = Field(3, ge=1)
    """Ratings outside hours (and the grace) at one counter over the span before it is flagged: one late press
    can be a citizen served at the door; three are a pattern."""
    no_staff_min_ratings: int = Field(5, ge=1)
    """Ratings recorded while nobody was signed in, at a counter whose staff do sign in, before it is flagged:
    a handful covers a forgotten sign-in after lunch; more is ratings nobody answers for."""
    technician_idle_minutes: float = Field(3.0, gt=0, le=240)
    """How long technician mode is taken to stay open after its sign-in or its last action (the terminal
    records no sign-out from it): a technician at work acts every minute or so; a longer window would take in
    the first citizens served after a repair."""
    technician_min_ratings: int = Field(2, ge=1)
    """Ratings inside technician mode at one device before it is flagged: a technician's test press is one."""

    # -- services: unsolicited, more_ratings_than_cases -------------------------------------------
    request_window_max_s: float = Field(600.0, gt=0)
    """The longest a request may wait for its press: the terminal's largest allowed solicit_window_s, so no
    honest configuration makes a rating look unsolicited."""
    unsolicited_min_ratings: int = Field(3, ge=1)
    """Solicited-mode ratings with no open request before them, at one counter, before it is flagged: the
    terminal itself never stores one, so even a few mean its records were altered."""
    cases_min_share: float = Field(0.5, gt=0, le=1)
    """The share of a counter's requests that carry a case number for it to count as one where the counter PC
    sends them (below it, case numbers are too sparse to compare)."""
    cases_min_excess: int = Field(3, ge=1)
    """Ratings beyond the cases called (summed over the days of the span) before a counter is flagged."""

    # -- timing: fast_press, cooldown_edge, top_burst ----------------------------------------------
    min_press_latency_ms: float = Field(1000.0, gt=0)
    """The human floor from a request to the press: a citizen must see the prompt, reach the key and press it.
    Reaction to a visual prompt alone takes 0.2–0.3 s; reaching a key at a counter takes more (the demo's
    citizens take 2–12 s). A press under a second is someone's finger already on the key."""
    fast_press_min_count: int = Field(5, ge=1)
    """Fast presses one staff member must have before the test is run."""
    fast_press_floor_share: float = Field(0.01, gt=0, lt=1)
    """The smallest share of fast presses assumed for the unit's other staff: a unit where nobody is ever fast
    would otherwise make one quick citizen a signal."""
    fast_press_alpha: float = Field(1e-6, gt=0, lt=1)
    """The binomial test's false-alarm rate per staff member."""
    cooldown_s: float = Field(5.0, gt=0)
    """The terminal's cooldown after an open-mode rating (config timings.cooldown_s, default 5 s)."""
    cooldown_edge_window_s: float = Field(3.0, gt=0)
    """A rating this soon after the cooldown ends is at its edge: the next citizen, served and walking up,
    takes minutes, not seconds."""
    cooldown_edge_min_count: int = Field(5, ge=1)
    """Presses at the edge one counter must have before the test is run."""
    cooldown_edge_alpha: float = Field(1e-6, gt=0, lt=1)
    """The binomial test's false-alarm rate per counter."""
    burst_windows_minutes: tuple[float, ...] = Field((2.0, 10.0, 30.0, 60.0), min_length=1)
    """The scan windows of the burst test: a quick run of presses, a sustained one, half an hour's and an
    hour's stuffing."""
    cooldown_peak_factor: float = Field(2.0, ge=1)
    """The cooldown test's rate of ratings is the counter's median day's rate per opening hour times this: the
    busiest hour of a day holds about twice the day's mean rate."""
    burst_min_rate_per_hour: float = Field(2.0, gt=0)
    """The smallest baseline of top ratings assumed, per hour of window: a quiet counter's one busy morning is
    not a burst."""
    burst_alpha: float = Field(1e-5, gt=0, lt=1)
    """The scan test's false-alarm rate per counter over the span (days and windows together): a city of a few
    thousand counters sees a false burst in a few dozen quarters."""

    # -- distribution: no_bad_reviews, unrated_collapse, step_after_ranking --------------------------
    no_bad_fdr: float = Field(0.001, gt=0, lt=1)
    """Benjamini–Hochberg's false discovery rate across the units and counters tested."""
    no_bad_null_quantile: float = Field(0.1, gt=0, lt=0.5)
    """The bad rate tested against is this quantile of the sector's units' bad rates, not its mean: the
    sector's very good units, honest, are the ones the null must cover."""
    no_bad_min_rate: float = Field(0.003, gt=0, lt=1)
    """The smallest bad rate ever tested against: even the best sector has some."""
    no_bad_min_unit_ratings: int = Field(100, ge=1)
    """Ratings a unit needs for its bad rate to count among its sector's."""
    collapse_min_days: int = Field(7, ge=2)
    """Active days each side of a change point."""
    collapse_min_drop: float = Field(0.5, gt=0, le=1)
    """How much of its unrated share a counter must lose (relative) for a collapse to be reported."""
    collapse_z: float = Field(5.0, gt=0)
    """Both z statistics (unrated share falls, top share rises) must reach this: the scan over split days is a
    multiple test; z = 5 keeps it under 1e-6 per counter for a quarter's splits."""
    step_window_days: int = Field(28, ge=7)
    """Days compared before and after a ranking's publication."""
    step_min_days: int = Field(10, ge=2)
    """Active days needed on each side."""
    step_min_rise: float = Field(0.05, gt=0, lt=1)
    """The smallest rise in the good rate reported (5 points): a smaller step is no gain worth gaming."""
    step_z: float = Field(4.75, gt=0)
    """The over-dispersion-corrected z the rise must reach (one-sided p ≈ 1e-6)."""

    # -- devices: suppressed_spike, selective_silence, chain_problem, clock_jump, counter_change, receipts -----
    suppressed_spike_factor: float = Field(5.0, gt=1)
    """A day's suppressed presses must reach this many times the counter's usual share of its services."""
    suppressed_min_share: float = Field(0.02, gt=0)
    """The smallest usual share of suppressed presses per rating assumed (a second press after the thanks is
    common)."""
    suppressed_min_count: int = Field(10, ge=1)
    """Suppressed presses a day needs before the test is run."""
    suppressed_alpha: float = Field(1e-6, gt=0, lt=1)
    """The Poisson test's false-alarm rate per counter-day."""
    silence_day_p: float = Field(1e-3, gt=0, lt=1)
    """A day whose longest silence has a run probability below this counts as a silent day."""
    silence_partly_p: float = Field(1e-2, gt=0, lt=1)
    """A day whose longest silence has a run probability below this counts as partly silent. One honest day in a
    hundred may be one (a long break, a slow afternoon), but a device silent for a shift on many of its days
    has a dozen or more in a quarter, each too short to be a silent day (a shift is 20–40 of the others'
    services: p between 1e-3 and 1e-2), and their count gives it away: on the recall bench, 12 of 60 days
    (binomial 1e-12), where its 3,000 honest devices had at most 5 of 90 (2e-3). The count of silent days
    alone let such a device through; a few strongly silent days are still caught by theirs."""
    silence_alpha: float = Field(1e-6, gt=0, lt=1)
    """The false-alarm rate per device over the span: of its worst day (Bonferroni over days), and of its
    counts of silent and partly silent days (binomial, Bonferroni over the two counts)."""
    clock_jump_s: float = Field(60.0, gt=0)
    """A step in a device's clock against its monotonic clock, within one boot, of at least this: the ingest's
    own tolerance; drift is seconds a day."""
    counter_change_max_moves: int = Field(1, ge=0)
    """Moves of a device in the registry within the span the office makes in the normal course."""
    receipt_grace_hours: float = Field(24.0, ge=0)
    """A receipt not found this long after its first lookup, from a device that has since sent later ratings,
    is a rating that will not arrive."""

    # -- the run ------------------------------------------------------------------------------------
    workers: int = Field(2, ge=1, le=64)
    """Processes reading the units in parallel (the machine's cores); 1 on SQLite in memory."""
    parallel_min_units: int = Field(40, ge=1)
    """Fewer units than this are read in this process: starting workers costs more than it saves."""


DEFAULT_SETTINGS = IntegritySettings()
