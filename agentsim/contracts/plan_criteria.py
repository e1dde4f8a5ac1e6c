"""The names of the criteria a day plan is judged by. They live with the contracts because the
critic's answer model (`CriterionVerdict`) only accepts these names, and the computed checks
(`agentsim.cognition.plan_checks`) report under the same ones."""

from __future__ import annotations

PLACES_EXIST = "places exist"
REACHABLE = "reachable in time"
COHERENT_TIMES = "coherent times"
FITS_PERSONA = "fits the persona"  # judged by the critic, not computed
COMPUTED = (PLACES_EXIST, REACHABLE, COHERENT_TIMES)
CRITERIA = (*COMPUTED, FITS_PERSONA)
