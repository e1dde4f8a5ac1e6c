"""The `agentsim` command. Errors a user can cause print one line and exit 2."""

from __future__ import annotations

import functools
import json
import sys
from typing import Any

import click

from agentsim.cli_params import COUNT, DOLLARS, NATURAL, POSITIVE
from agentsim.errors import LLMUnavailable, UserError
from agentsim.tui.web import web_options


def _friendly(fn):
    """Turn user errors (and bad files) into one line and exit code 2; --debug shows tracebacks."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return fn(*args, **kwargs)
        except UserError as e:
            if debug:
                raise
            click.echo(f"agentsim: error: {e}", err=True)
            sys.exit(2)
        except LLMUnavailable as e:  # e.g. an interview with the server gone
            if debug:
                raise
            click.echo(f"agentsim: error: {e}", err=True)
            sys.exit(LLMUnavailable.exit_code)
        except KeyboardInterrupt:
            click.echo("agentsim: interrupted", err=True)
            sys.exit(130)
        except OSError as e:
            from agentsim.cli_run import disk_full

            if debug or not disk_full(e):
                raise
            where = f"{e.filename}: " if e.filename else ""
            click.echo(f"agentsim: error: {where}disk full ({e.strerror}); free some space and "
                       "try again", err=True)
            sys.exit(2)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.version_option(package_name="agentsim")
def main(debug: bool) -> None:
    """Simulate a society of generative agents."""


@main.command()
@click.argument("world")
@_friendly
def validate(world: str) -> None:
    """Check a world folder and print a summary."""
    from agentsim.resources import resolve_world
    from agentsim.skills.library import load_seed_skills
    from agentsim.world.loader import load_world

    w = load_world(resolve_world(world))
    skills = load_seed_skills(w.path / "skills", w.path)
    click.echo(
        f"{w.path}: ok: {w.spec.name}, {len(w.personas)} agents, {len(w.places.ids())} places, "
        f"{len(w.documents)} documents, {len(skills)} skills, "
        f"tick {w.spec.tick_minutes} min, starts {w.spec.start:%Y-%m-%d %H:%M}"
        + (f", protocol {w.spec.protocol.name}" if w.spec.protocol else "")
    )


@main.command()
@click.argument("world", required=False)
@click.option("--hours", type=POSITIVE, help="Sim hours to run (default: 24, or what is left).")
@click.option("--ticks", type=COUNT, help="Ticks to run instead of hours.")
@click.option("--seed", type=NATURAL, default=0, show_default=True)
@click.option("--llm", "llm_spec", help="LLM spec, e.g. offline, ollama:llama3.1, "
              "openai:gpt-4o-mini, fast=ollama:qwen2.5:3b,smart=openai:gpt-4o-mini.")
@click.option("--llm-config", type=click.Path(dir_okay=False), help="agentsim.toml with [llm].")
@click.option("--embedder", type=click.Choice(["minilm", "hash"]), default="minilm",
              show_default=True, help="minilm: bundled all-MiniLM-L6-v2; hash: fast, crude.")
@click.option("--headless", is_flag=True, help="No TUI: a progress bar and a line per sim-hour.")
@click.option("--out", type=click.Path(file_okay=False), default="runs", show_default=True)
@click.option("--resume", type=click.Path(file_okay=False), help="Continue runs/<id> from its "
              "last checkpoint.")
@click.option("--replay", type=click.Path(file_okay=False), help="Rerun runs/<id> from its "
              "recorded LLM answers, with no LLM calls.")
@click.option("--max-in-flight", type=COUNT, help="Max LLM requests in flight.")
@click.option("--budget-calls", type=NATURAL, help="Stop cleanly after this many LLM calls.")
@click.option("--budget-tokens", type=NATURAL, help="Stop cleanly after this many tokens.")
@click.option("--budget-usd", type=DOLLARS, help="Stop cleanly after this many dollars.")
@click.option("--give-up-after", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Stop (at the last checkpoint, resumable) when no LLM call has succeeded "
              "for this long  [default: 120, or the LLM timeout if longer; 0: never]")
@click.option("--give-up-failures", type=click.IntRange(min=0), metavar="N",
              help="Stop (at the last checkpoint, resumable) after N LLM calls in a row failed "
              "after all their retries  [default: 20; 0: never]")
@click.option("--fallback", type=click.Choice(["offline", "stop"]),
              help="When the model cannot answer a call (server errors after all retries, no "
              "valid JSON even after a re-ask): offline: the built-in offline mind answers it, "
              "counted and reported as a fallback; stop: the run stops at its last checkpoint "
              "(resumable)  [default: [llm] fallback, else stop for a model]")
@click.option("--min-model-share", type=click.FloatRange(0, 1), metavar="SHARE",
              help="Warn loudly at the end when the model answered less than this share of the "
              "calls meant for it  [default: 0.5]")
@click.option("--cache", type=click.Path(dir_okay=False),
              help="A response cache (sqlite file) shared across runs: same request, no call.")
@click.option("--checkpoint-every", type=COUNT, default=6, show_default=True,
              help="Ticks between checkpoints.")
@click.option("--keep-checkpoints", type=NATURAL, default=3, show_default=True,
              help="Keep the newest N checkpoints (0: all).")
@click.option("--embed-threads", type=COUNT, help="CPU threads for the embedding model "
              "[default: $AGENTSIM_EMBED_THREADS, else 1].")
@click.option("--no-skills", is_flag=True, help="Do tasks without the skill library.")
@click.option("--skills-from", metavar="RUN_OR_LIBRARY", type=click.Path(exists=True),
              help="Start from the skills an earlier run learned (a run directory) or a skill "
              "library (a JSON-lines file such as OUT/skill_library/WORLD.jsonl), besides the "
              "world's seed skills  [default: the seed skills only]")
@click.option("--skill-library", type=click.Path(dir_okay=False),
              help="JSON-lines file this run's learned skills are merged into when it ends, "
              "for a later --skills-from; never read unless asked "
              "(default OUT/skill_library/WORLD.jsonl).")
@click.option("--allow-unsandboxed-skills", is_flag=True,
              help="Run skills a model writes even where the sandbox's operating-system wall "
              "(bubblewrap, Linux) is unavailable.")
@click.option("--web", is_flag=True, help="Show the live view in a browser instead (as "
              "`agentsim serve`), at --host and --port.")
@web_options
@click.option("--shards", type=COUNT, default=1, show_default=True,
              help="Split the residents over this many Ray actors (one simulation, the same "
              "events as in one process).")
@click.option("--ray-address", metavar="ADDRESS", help="The Ray cluster --shards run on, e.g. "
              "ray://head:10001 or auto  [default: a local Ray instance]")
@_friendly
def run(world: str | None, hours, ticks, seed, llm_spec, llm_config, embedder, headless, out,
        resume, replay, max_in_flight, budget_calls, budget_tokens, budget_usd, give_up_after,
        give_up_failures, fallback, min_model_share, cache, checkpoint_every, keep_checkpoints,
        embed_threads, no_skills, skills_from, skill_library, allow_unsandboxed_skills, web,
        host, port, public_url, shards, ray_address) -> None:
    """Run WORLD (a folder such as worlds/smallville), or resume or replay a run."""
    from agentsim.cli_run import run_cli
    from agentsim.options import RunOptions
    from agentsim.tui.web import given_args, serve, served_in_browser

    if hours is not None and ticks is not None:
        raise UserError("give --hours or --ticks, not both", field="--hours")
    if skills_from and (resume or replay):
        raise UserError("a resume or a replay starts from the skills its run started from",
                        field="--skills-from")
    if world is None and not (resume or replay):
        raise UserError("missing WORLD (e.g. worlds/smallville), or --resume/--replay RUN",
                        field="WORLD")
    if web:
        if headless:
            raise UserError("--web shows the live view; --headless has none", field="--web")
        serve(given_args(click.get_current_context(), drop={"web", "host", "port",
                                                            "public_url"}),
              host=host, port=port, url=public_url, echo=click.echo)
        return
    opts = RunOptions(
        world=world, hours=hours, ticks=ticks, seed=seed, llm=llm_spec, llm_config=llm_config,
        embedder=embedder, out=out, resume=resume, replay=replay, max_in_flight=max_in_flight,
        budget_calls=budget_calls, budget_tokens=budget_tokens, budget_usd=budget_usd,
        give_up_after=give_up_after, give_up_failures=give_up_failures, fallback=fallback,
        min_model_share=min_model_share, checkpoint_every=checkpoint_every,
        keep_checkpoints=keep_checkpoints, embed_threads=embed_threads,
        headless=headless or not (sys.stdout.isatty() or served_in_browser()),
        cache=cache, skills=not no_skills, skills_from=skills_from,
        skill_library=skill_library or "auto",
        allow_unsandboxed_skills=allow_unsandboxed_skills, shards=shards,
        ray_address=ray_address,
    )
    sys.exit(run_cli(opts))


@main.command(name="serve", context_settings={"ignore_unknown_options": True})
@click.argument("world")
@web_options
@click.argument("run_args", nargs=-1, type=click.UNPROCESSED, metavar="[RUN OPTIONS]...")
@_friendly
def serve_cmd(world: str, host: str, port: int, public_url: str | None,
              run_args: tuple[str, ...]) -> None:
    """Watch WORLD's live view in a browser: serve `agentsim run WORLD [RUN OPTIONS]` (e.g.
    --hours 2 --llm offline) at http://HOST:PORT. Each browser tab starts its own run."""
    from agentsim.tui.web import serve

    args = [world, *run_args]
    if "--headless" in args or "--web" in args:
        raise UserError("serve shows the live view: leave out --headless and --web",
                        field="RUN OPTIONS")
    run.make_context("agentsim run", list(args))  # a bad run option fails here, not per tab
    serve(args, host=host, port=port, url=public_url, echo=click.echo)


@main.command(name="interview")
@click.argument("run_path", metavar="RUN")
@click.argument("name")
@click.argument("question")
@click.option("--json", "as_json", is_flag=True)
@click.option("--fallback", type=click.Choice(["stop", "offline"]), default="stop",
              show_default=True, help="When the run's model cannot answer: stop (exit 3, no "
              "answer), or let the built-in offline mind answer, labelled as such.")
@_friendly
def interview_cmd(run_path: str, name: str, question: str, as_json: bool,
                  fallback: str) -> None:
    """Ask NAME a QUESTION at the last checkpoint of RUN. The run is not changed (from Python,
    `sim.interview(name, question, remember=True)` lets the agent remember being asked).
    An answer the model did not give is never shown as the resident's words: with the
    offline mind as the run's mind, or as a fallback, the answer says so."""
    from agentsim.experiment import Simulation

    sim = Simulation.open(run_path, llm=None, fallback=fallback)
    before = _origins(sim.llm)
    try:
        ans = sim.interview(name, question)
    finally:
        sim.close()
    origin = _answer_origin(before, _origins(sim.llm))
    if as_json:
        click.echo(json.dumps({
            "agent": ans.agent, "question": question, "answer": ans.answer, "origin": origin,
            "memories": [{"id": m.record.id, "text": m.record.text, "source": m.record.source,
                          "score": round(m.score, 4)} for m in ans.memories],
            "citations": [c.to_dict() for c in ans.citations],
            "sources": ans.sources,
        }, indent=2))
        return
    label = {"offline": " [the offline mind, not a language model]",
             "fallback": " [the offline mind: the model could not answer]"}.get(origin or "", "")
    click.echo(f"{sim.agent(ans.agent).name}{label}: {ans.answer}")
    for m in ans.memories:
        src = f" (source: {m.record.source})" if m.record.source else ""
        click.echo(f"  [{m.record.id}] {m.record.text}{src}")
    if ans.citations:
        click.echo("Sources:")
    for c in ans.citations:
        click.echo(f"  [{c.chunk}] {c.title}: \"{c.quote}\"")


def _origins(llm: Any) -> dict[str, int]:
    return dict(llm.usage.total.origins)


def _answer_origin(before: dict[str, int], after: dict[str, int]) -> str | None:
    """Who gave an answer, from the answers counted by origin before and after it: any
    fallback makes it a fallback, any answer of the offline mind an offline one."""
    new = {o for o, n in after.items() if n > before.get(o, 0)}
    for origin in ("fallback", "offline", "reasked", "repaired", "model", "cache", "replay"):
        if origin in new:
            return origin
    return None


@main.command()
@click.argument("run_path", metavar="RUN")
@click.option("--agent", "name", required=True)
@click.option("--query", required=True)
@click.option("-k", "k", type=COUNT, default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@_friendly
def inspect(run_path: str, name: str, query: str, k: int, as_json: bool) -> None:
    """Show the memories NAME would retrieve for QUERY, with each score component."""
    from agentsim.experiment import Simulation

    sim = Simulation.open(run_path, llm=None)
    try:
        found = sim.retrieve(name, query, k=k)
    finally:
        sim.close()
    if as_json:
        click.echo(json.dumps([
            {"id": m.record.id, "kind": str(m.record.kind), "text": m.record.text,
             "created": m.record.created.isoformat(), "importance_raw": m.record.importance,
             "score": m.score, "recency": m.recency, "importance": m.importance,
             "relevance": m.relevance, "weights": list(m.weights)} for m in found
        ], indent=2))
        return
    for m in found:
        click.echo(f"{m.explain()}  [{m.record.id}] {m.record.kind}: {m.record.text}")


@main.command(name="replay")
@click.argument("run_path", metavar="RUN")
@_friendly
def replay_cmd(run_path: str) -> None:
    """Open a finished run in the TUI from its event log (no LLM); move through time."""
    from agentsim.rundir import RunDir
    from agentsim.tui import replay_tui

    RunDir.open(run_path)  # one clear line if RUN is not a run directory
    replay_tui(run_path)


@main.command(name="skills")
@click.argument("target", metavar="WORLD_OR_RUN")
@click.option("--runs", type=click.Path(file_okay=False), default="runs", show_default=True,
              help="For a WORLD: the runs folder whose shared library to read.")
@click.option("--show", "show", metavar="NAME", help="Print the code of one skill.")
@click.option("--json", "as_json", is_flag=True)
@_friendly
def skills_cmd(target: str, runs: str, show: str | None, as_json: bool) -> None:
    """List the skills of a world (seed skills and those learned in its runs) or of one run,
    with their use and success counts."""
    from agentsim.skills.listing import list_skills

    skills, where = list_skills(target, runs)
    if show is not None:
        found = next((s for s in skills if s.name == show), None)
        if found is None:
            raise UserError(f"no skill {show!r} in {where}", field="--show")
        click.echo(found.code.rstrip())
        return
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in skills], indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(skills)} skills in {where}", title_justify="left")
    table.add_column("skill", no_wrap=True)
    table.add_column("origin", no_wrap=True)
    table.add_column("used", justify="right")
    table.add_column("worked", justify="right")
    table.add_column("description", ratio=1)
    for s in skills:
        origin = "seed" if s.seed else "learned by " + s.provenance.split(":")[2] \
            if s.provenance.count(":") >= 2 else "learned"
        table.add_row(s.name, origin, str(s.uses), str(s.successes), s.description)
    Console(width=max(132, Console().width)).print(table)


@main.command(name="export")
@click.argument("run_path", metavar="RUN")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv", "jsonl"]),
              default=None, help="Format of the tables  [default: parquet]")
@click.option("--refinements", is_flag=True, help="Write refinements.jsonl: each self-refine "
              "loop as a chat fine-tuning example (the tables too if --format is given).")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Folder (default RUN/export).")
@_friendly
def export_cmd(run_path: str, fmt: str | None, refinements: bool, out: str | None) -> None:
    """Write RUN's tables (events, conversations, agents, relationships, memories, LLM usage)
    or, with --refinements, its self-refine loops as fine-tuning examples."""
    from agentsim.export import export_refinements, export_run, has_checkpoint

    if refinements:
        click.echo(str(export_refinements(run_path, out,
                                          warn=lambda m: click.echo(m, err=True))))
    if fmt is not None or not refinements:
        for f in export_run(run_path, fmt or "parquet", out):
            click.echo(str(f))
        if not has_checkpoint(run_path):
            click.echo(f"agentsim: note: {run_path} has no checkpoint: the relationships and "
                       "memories tables are empty", err=True)


@main.command(name="report")
@click.argument("run_path", metavar="RUN")
@click.option("--agent", help="Whose day to draw (default: the most talkative resident).")
@click.option("--about", multiple=True, help="A phrase whose spread to plot (repeatable); the "
              "world's scheduled events are always plotted.")
@click.option("--html", "as_html", is_flag=True, help="HTML instead of Markdown.")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Folder (default RUN/report).")
@_friendly
def report_cmd(run_path: str, agent: str | None, about: tuple[str, ...], as_html: bool,
               out: str | None) -> None:
    """Write a report of RUN with figures: news spread, relationships, conversations, a day."""
    from agentsim.report import write_report

    click.echo(str(write_report(run_path, agent=agent, about=list(about), as_html=as_html,
                                out=out)))


@main.command(name="sweep")
@click.argument("world")
@click.option("--grid", "grid_items", multiple=True, metavar="KEY=V1,V2",
              help="A parameter and its values, e.g. weights=1:1:1,1:1:3 or max_turns=2,6 "
              "(repeat for more).")
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds.")
@click.option("--hours", type=POSITIVE, help="Sim hours per run.")
@click.option("--ticks", type=COUNT, help="Ticks per run instead of hours.")
@click.option("--workers", type=COUNT, help="Local worker processes (default: one per core).")
@click.option("--ray", "ray_address", is_flag=False, flag_value="auto", default=None,
              metavar="[ADDRESS]", help="Run on Ray: a local Ray, or the cluster at ADDRESS.")
@click.option("--llm", "llm_spec", default="offline", show_default=True)
@click.option("--embedder", type=click.Choice(["minilm", "hash"]), default="minilm",
              show_default=True)
@click.option("-o", "--out", type=click.Path(file_okay=False),
              help="The sweep's folder (default: runs/sweep-<time>).")
@_friendly
def sweep_cmd(world, grid_items, seeds, hours, ticks, workers, ray_address, llm_spec, embedder,
              out) -> None:
    """Run WORLD for every combination of --grid values and every seed, in parallel; print the
    mean and 95 % confidence interval of each measure per cell."""
    from agentsim.sweeps import parse_grid, sweep

    try:
        seed_list = [int(x) for x in seeds.split(",") if x.strip()]
    except ValueError:
        seed_list = [-1]
    if not seed_list or min(seed_list) < 0:
        raise UserError(f"bad seeds {seeds!r}: integers >= 0 separated by commas",
                        field="--seeds")
    if hours is None and ticks is None:
        hours = 24.0
    result = sweep(world, parse_grid(grid_items), seed_list, hours=hours, ticks=ticks,
                   workers=workers, backend="ray" if ray_address else "local",
                   ray_address=None if ray_address in (None, "auto") else ray_address,
                   llm=llm_spec, embedder=embedder, out=out)
    click.echo(result.table())
    failed = result.runs["error"].notna().sum()
    if failed:
        click.echo(f"{failed} run(s) failed; see runs.csv", err=True)
    click.echo(f"{len(result.runs)} runs on {result.backend}: {result.out}/summary.csv, "
               f"{result.out}/runs.csv")


# -- commands kept in their own packages (each registered here, one line) --------------------
from agentsim.evaluate.command import evaluate_cmd  # noqa: E402

main.add_command(evaluate_cmd)


def run_main() -> None:
    """The console script: click's usage errors become one line and exit 2, like ours."""
    try:
        main(standalone_mode=False)
    except click.UsageError as e:
        hint = f" (see: agentsim {e.ctx.info_name} --help)" if e.ctx and e.ctx.parent else ""
        click.echo(f"agentsim: error: {e.format_message()}{hint}".replace("\n", " "), err=True)
        sys.exit(2)
    except click.Abort:
        click.echo("agentsim: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    run_main()
