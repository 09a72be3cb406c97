"""The few tail probabilities the signals need, in the standard library alone (no SciPy on a centre).

Each returns an upper tail P(X ≥ k) computed in log space, exact to float precision where it matters (small
probabilities); a tail that is not small (k at or below the mean) is returned as 1.0, which only ever makes a
test more conservative.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

_TERMS = 10_000        # a tail's terms summed at most; past the mode they fall geometrically


def poisson_logpmf(k: int, mu: float) -> float:
    if mu <= 0:
        return 0.0 if k == 0 else -math.inf
    return k * math.log(mu) - mu - math.lgamma(k + 1)


def poisson_sf(k: int, mu: float) -> float:
    """P(X ≥ k) for X ~ Poisson(mu)."""
    if k <= 0:
        return 1.0
    if k <= mu:
        return 1.0
    log_first = poisson_logpmf(k, mu)
    total, term = 1.0, 1.0
    for j in range(k + 1, k + _TERMS):
        term *= mu / j
        total += term
        if term < 1e-17 * total:
            break
    return min(1.0, math.exp(log_first) * total)


def binom_logpmf(k: int, n: int, p: float) -> float:
    if p <= 0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1:
        return 0.0 if k == n else -math.inf
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            + k * math.log(p) + (n - k) * math.log1p(-p))


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if k <= n * p:
        return 1.0
    log_first = binom_logpmf(k, n, p)
    total, term = 1.0, 1.0
    odds = p / (1 - p) if p < 1 else math.inf
    for j in range(k + 1, min(n, k + _TERMS) + 1):
        term *= (n - j + 1) / j * odds
        total += term
        if term < 1e-17 * total:
            break
    return min(1.0, math.exp(log_first) * total)


def normal_sf(z: float) -> float:
    """P(Z ≥ z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def scan_p(k: int, psi: float, windows: float) -> float:
    """An upper bound on P(some window holds ≥ k events) for a Poisson process with `psi` expected events per
    window, over a stretch `windows` windows long: the chance the first window already holds k, plus the
    expected number of times the moving window's count climbs to k (an event arriving while it holds k − 1,
    at rate psi per window, for `windows` windows): P(X ≥ k) + windows · k · P(X = k)."""
    if k <= 0:
        return 1.0
    climbs = windows * k * math.exp(poisson_logpmf(k, psi))
    return min(1.0, poisson_sf(k, psi) + climbs)


def benjamini_hochberg(p_values: Sequence[float], fdr: float) -> list[bool]:
    """Which of the hypotheses Benjamini–Hochberg rejects at false discovery rate `fdr`."""
    order = sorted(range(len(p_values)), key=lambda index: p_values[index])
    count, cut = len(p_values), -1
    for rank, index in enumerate(order, start=1):
        if p_values[index] <= fdr * rank / count:
            cut = rank
    rejected = [False] * count
    for index in order[:max(cut, 0)]:
        rejected[index] = True
    return rejected


def dispersion(successes: Sequence[int], trials: Sequence[int]) -> float:
    """The quasi-binomial dispersion of daily counts around their pooled rate (Pearson χ² / df), at least 1:
    days vary more than a binomial allows (a busy Monday, a new colleague), and a z that ignored it would
    call ordinary variation a step."""
    n = sum(trials)
    days = [(s, t) for s, t in zip(successes, trials, strict=True) if t > 0]
    if n == 0 or len(days) < 3:
        return 1.0
    rate = sum(s for s, _ in days) / n
    if rate <= 0 or rate >= 1:
        return 1.0
    chi2 = sum((s - t * rate) ** 2 / (t * rate * (1 - rate)) for s, t in days)
    return max(1.0, chi2 / (len(days) - 1))


def two_share_z(s1: int, n1: int, s2: int, n2: int, phi: float = 1.0) -> float:
    """z of the rise from share s1/n1 to s2/n2 (pooled variance, times the dispersion `phi`); 0 when undefined."""
    if n1 == 0 or n2 == 0:
        return 0.0
    pooled = (s1 + s2) / (n1 + n2)
    variance = phi * pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return 0.0
    return (s2 / n2 - s1 / n1) / math.sqrt(variance)
