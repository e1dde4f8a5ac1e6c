"""TrueSkill ratings from the judge's rankings, as the paper rated its conditions (Sec. 6.2):
every ranking of one question's answers is a free-for-all match between the conditions.

The rating model is openskill's Thurstone-Mosteller model with full pairing, the Gaussian
model TrueSkill is (openskill implements the Weng-Lin Bayesian approximation of it, with
TrueSkill's defaults: mu 25, sigma 25/3), with no dynamics factor (tau 0): a condition's
skill does not change from one question to the next, and with TrueSkill's default tau the
last few hundred matches (the last residents by id) would outweigh the rest. Matches are
rated in the order given, which the evaluation keeps fixed (resident, then question), so
ratings are reproducible."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Rating:
    mu: float
    sigma: float
    matches: int


def trueskill(names: Sequence[str], rankings: Iterable[Sequence[str]]) -> dict[str, Rating]:
    """Each condition's rating after the matches in `rankings` (each the names of the
    conditions it ranks, best first; a ranking may leave conditions out)."""
    from openskill.models import ThurstoneMostellerFull

    model = ThurstoneMostellerFull(tau=0.0)
    ratings = {n: model.rating(name=n) for n in names}
    played = dict.fromkeys(names, 0)
    for ranking in rankings:
        order = [n for n in dict.fromkeys(ranking) if n in ratings]
        if len(order) < 2:
            continue
        teams = model.rate([[ratings[n]] for n in order], ranks=list(range(1, len(order) + 1)))
        for n, [r] in zip(order, teams, strict=True):
            ratings[n] = r
            played[n] += 1
    return {n: Rating(ratings[n].mu, ratings[n].sigma, played[n]) for n in names}
