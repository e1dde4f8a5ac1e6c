"""The `agentsim evaluate` command (registered in `agentsim.cli`); the work is in
`agentsim.evaluate.runner` and `.report`. Errors a user can cause print one line, exit 2."""

from __future__ import annotations

import shlex
import sys

import click


@click.command(name="evaluate")
@click.argument("target", metavar="WORLD_OR_RUN")
@click.option("--hours", type=click.FloatRange(min=0, min_open=True),
              help="Sim hours per condition (default: a run's length, else 48: the paper's "
              "two days).")
@click.option("--seed", type=click.IntRange(min=0), help="Seed (default: a run's, else 0).")
@click.option("--llm", "llm_spec", help="LLM spec for the residents and the judge (default: a "
              "run's, else the configured one, else offline).")
@click.option("--embedder", type=click.Choice(["minilm", "hash"]),
              help="Embedder (default: a run's, else minilm).")
@click.option("--conditions", help="Comma-separated, of: full, no_reflection, "
              "no_reflection_planning, no_observation_reflection_planning (default: all).")
@click.option("--residents", type=click.IntRange(min=1),
              help="Interview only the first N residents by id (default: all).")
@click.option("--out", type=click.Path(file_okay=False), default="evaluation",
              show_default=True, help="Folder for evaluation.json, evaluation.md, plots and "
              "the conditions' runs.")
def evaluate_cmd(target: str, hours: float | None, seed: int | None, llm_spec: str | None,
                 embedder: str | None, conditions: str | None, residents: int | None,
                 out: str) -> None:
    """Reproduce the paper's evaluation: interviews under four ablations, ranked by a judge
    and rated with TrueSkill, plus the end-to-end measures, beside the paper's figures."""
    from agentsim.errors import LLMUnavailable, UserError
    from agentsim.evaluate.report import write
    from agentsim.evaluate.runner import evaluate

    debug = click.get_current_context().find_root().params.get("debug", False)
    try:
        result = evaluate(target, hours=hours, seed=seed, llm=llm_spec, embedder=embedder,
                          conditions=conditions, out=out, residents=residents,
                          progress=lambda line: click.echo(f"agentsim evaluate: {line}",
                                                           err=True))
    except (UserError, LLMUnavailable) as e:
        if debug:
            raise
        click.echo(f"agentsim: error: {e}", err=True)
        sys.exit(2 if isinstance(e, UserError) else LLMUnavailable.exit_code)
    command = "agentsim evaluate " + " ".join(shlex.quote(a) for a in sys.argv[2:]) \
        if sys.argv[1:2] == ["evaluate"] else ""
    for path in write(result, out, command):
        click.echo(str(path))
    if result["offline_baseline"]:
        click.echo("note: the offline mind is a scripted rule baseline; these figures are "
                   "not findings about believability")
