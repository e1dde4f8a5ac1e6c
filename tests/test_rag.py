"""The knowledge base: chunking, the chromadb store, reading as an action, and citations in
interviews and conversations (offline mind, hash embedder, no model)."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from agentsim.cli import main
from agentsim.cognition.agent import Action, Agent
from agentsim.cognition.context import Context, Settings
from agentsim.cognition.converse import converse
from agentsim.cognition.interview import interview
from agentsim.cognition.memorize import Experience, memorize
from agentsim.cognition.read import read_if_reading
from agentsim.cognition.relationships import Relationships
from agentsim.contracts import CONVERSE_TURN
from agentsim.errors import UserError
from agentsim.events import Conversation, Read, parse_event
from agentsim.experiment import Simulation
from agentsim.llm.factory import client_for
from agentsim.llm.offline import OfflineMind
from agentsim.memory.embed import HashEmbedder
from agentsim.memory.record import MemoryKind
from agentsim.memory.stream import MemoryStream
from agentsim.rag import KnowledgeBase, chunk_text
from agentsim.rag.chunk import MAX_WORDS
from agentsim.rundir import run_dirs
from agentsim.testing import FakeLLM
from agentsim.world.loader import load_world

ROOT = Path(__file__).resolve().parent.parent
SMALLVILLE = ROOT / "worlds" / "smallville"
TINY = ROOT / "tests" / "fixtures" / "tiny_world"
WORLD = load_world(SMALLVILLE)
EMB = HashEmbedder()
MENU = "knowledge/hobbs_cafe_menu.md"
SCONE = "How much does the lavender scone cost at Hobbs Cafe?"


async def _embed(texts):
    return EMB.embed(list(texts))


def kb_of(texts: dict[str, str], path: Path | None = None) -> KnowledgeBase:
    return KnowledgeBase(texts, _embed, embedder_name=EMB.name, path=path)


SMALLVILLE_KB = KnowledgeBase.from_world(WORLD, _embed, embedder_name=EMB.name)


def make_agent(aid: str) -> Agent:
    p = WORLD.personas[aid]
    return Agent(aid, p, MemoryStream(aid, EMB.dim), p.home)


def make_ctx(fn=None, now=datetime(2023, 2, 13, 12, 0), **settings) -> Context:
    mind = OfflineMind()
    backend = FakeLLM(fn or (lambda tid, v: mind.answer(tid, v, 0)))
    return Context(client_for(backend), _embed, WORLD.places, "Smallville", now, 0,
                   Settings(**settings), knowledge=SMALLVILLE_KB)


# -- chunking ---------------------------------------------------------------------------------
DOC = """# Town Notes

An opening line about the town.

## Bakery

The bakery sells rye bread for four dollars.

It opens at seven.

## Long section

""" + "\n\n".join(
    " ".join(f"Sentence {p}-{i} tells of item number {p * 10 + i} in the long list." for i in
             range(6)) for p in range(6)) + "\n"


def test_chunks_keep_headings_lines_and_stable_ids():
    chunks = chunk_text("knowledge/notes.md", DOC)
    assert [c.id for c in chunks] == [f"knowledge/notes.md#{i}" for i in
                                      range(1, len(chunks) + 1)]
    assert chunk_text("knowledge/notes.md", DOC) == chunks  # same text, same chunks
    intro, bakery, *long = chunks
    assert intro.title == "Town Notes" and intro.lines == (3, 3)
    assert bakery.title == "Town Notes › Bakery" and bakery.lines == (7, 9)
    assert "rye bread" in bakery.text and "seven" in bakery.text
    assert bakery.embed_text().startswith("Town Notes › Bakery\n")
    # A long section is cut between paragraphs, within the word limit, never across a heading,
    # and each later piece starts with the last sentence of the piece before.
    assert len(long) >= 2 and all(c.title == "Town Notes › Long section" for c in long)
    assert all(len(c.text.split()) <= MAX_WORDS + 20 for c in long)
    for before, after in itertools.pairwise(long):
        last = before.text.rsplit("Sentence ", 1)[-1]
        assert after.text.startswith("Sentence " + last)
    # Editing one section leaves the ids of the chunks before it alone.
    edited = chunk_text("knowledge/notes.md", DOC.replace("four dollars", "five dollars"))
    assert [c.id for c in edited] == [c.id for c in chunks]
    assert edited[0] == intro and edited[1] != bakery


def test_a_text_file_has_no_headings_and_is_titled_by_its_name():
    text = "# not a heading\nBuses run hourly.\n\nLast bus 23:00."
    chunks = chunk_text("knowledge/bus_times.txt", text)
    assert [c.title for c in chunks] == ["Bus times"]
    assert "# not a heading" in chunks[0].text


# -- the store --------------------------------------------------------------------------------
async def test_store_indexes_once_and_searches_with_citations(tmp_path):
    texts = {MENU: (SMALLVILLE / MENU).read_text(), "knowledge/notes.md": DOC}
    kb = kb_of(texts, tmp_path / "kb")
    hits = await kb.asearch("lavender honey scone price", k=2)
    assert kb.indexed == len(kb) > 0
    assert hits[0].chunk.id == f"{MENU}#4" and hits[0].score >= hits[1].score
    cit = hits[0].citation
    assert (cit.document, cit.chunk, str(cit)) == (MENU, f"{MENU}#4", f"{MENU}#4")
    assert cit.title == "Hobbs Cafe Menu › Pastries" and cit.quote
    # Filters: only some documents, not some chunks.
    only = await kb.asearch("lavender honey scone price", k=3, documents=["knowledge/notes.md"])
    assert only and all(h.chunk.document == "knowledge/notes.md" for h in only)
    skip = await kb.asearch("lavender honey scone price", k=1, exclude=[f"{MENU}#4"])
    assert skip[0].chunk.id != f"{MENU}#4"
    assert kb.chunk(f"{MENU}#4").title.endswith("Pastries")
    assert kb.documents() == sorted(texts)

    # The same path again (a resume): nothing is embedded again, same answers.
    again = kb_of(texts, tmp_path / "kb")
    assert [h.chunk.id for h in await again.asearch("lavender honey scone price", k=2)] == \
        [h.chunk.id for h in hits]
    assert again.indexed == 0
    # One document changed: only its chunks are embedded again, and old ones are gone.
    changed = kb_of({**texts, "knowledge/notes.md": DOC + "\n## Added\n\nA new section.\n"},
                    tmp_path / "kb")
    await changed.ready()
    assert changed.indexed == len(changed.chunks("knowledge/notes.md"))
    assert changed._collection.count() == len(changed)


async def test_in_memory_stores_with_different_documents_stay_apart():
    a = kb_of({"knowledge/a.md": "# A\n\nApples grow on the hill."})
    b = kb_of({"knowledge/a.md": "# A\n\nBoats sail on the lake."})
    assert (await a.asearch("apples", k=1))[0].chunk.text.startswith("Apples")
    assert (await b.asearch("apples", k=1))[0].chunk.text.startswith("Boats")


def test_loading_a_simulation_does_not_import_chromadb():
    code = ("import sys; from agentsim import Simulation; "
            f"s = Simulation.load({str(SMALLVILLE)!r}, embedder='hash'); "
            "print(s.knowledge is not None, 'chromadb' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, timeout=120)
    assert out.stdout.split() == ["True", "False"]


# -- the world's documents --------------------------------------------------------------------
def _tiny(tmp_path: Path, edit) -> Path:
    world = tmp_path / "tiny"
    shutil.copytree(TINY, world)
    (world / "knowledge").mkdir()
    (world / "knowledge" / "menu.md").write_text("# Menu\n\nTea: $2.\n")
    data = yaml.safe_load((world / "world.yaml").read_text())
    edit(data)
    (world / "world.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return world


def test_places_and_objects_hold_documents(tmp_path):
    def edit(d):
        counter = d["places"]["children"][0]["children"][0]
        counter["documents"] = ["knowledge/menu.md"]
        counter["objects"][0]["documents"] = ["knowledge/menu.md"]

    w = load_world(_tiny(tmp_path, edit))
    assert list(w.documents) == ["knowledge/menu.md"]
    assert w.places.documents_at("cafe_counter") == ["knowledge/menu.md"]
    assert w.places.object_documents("coffee_machine") == ["knowledge/menu.md"]
    assert w.places.documents_at("house_a") == []


def test_a_missing_document_is_a_one_line_error_naming_file_and_field(tmp_path):
    def edit(d):
        d["places"]["children"][0]["children"][0]["objects"][0]["documents"] = ["menu.md"]

    world = _tiny(tmp_path, edit)
    with pytest.raises(UserError) as err:
        load_world(world)
    msg = str(err.value)
    assert msg.startswith(f"{world / 'world.yaml'}: "
                          "places.children[0].children[0].objects[0].documents[0]: ")
    assert "no document 'menu.md'" in msg and "knowledge/menu.md" in msg and "\n" not in msg
    r = CliRunner().invoke(main, ["validate", str(world)])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "documents[0]" in r.output


# -- reading ----------------------------------------------------------------------------------
async def test_reading_in_the_library_leaves_a_cited_memory_and_an_event():
    klaus = make_agent("klaus_mueller")
    ctx = make_ctx(now=datetime(2023, 2, 13, 11, 0))
    start = ctx.now
    klaus.location = "college_library"
    item = Action("research gentrification in the library", "college_library", start,
                  start + timedelta(hours=3))
    klaus.day_plan = [item]
    step = Action("read carefully", "college_library", start, start + timedelta(minutes=10),
                  object="library_desk", object_state="in use")
    await read_if_reading(klaus, step, ctx)
    [rec] = klaus.memory.records({MemoryKind.reading})
    library = WORLD.places.documents_at("college_library")
    assert rec.source in {c.id for d in library for c in SMALLVILLE_KB.chunks(d)}
    chunk = SMALLVILLE_KB.chunk(rec.source)
    assert rec.text.startswith(f"I read in {chunk.title}: ")
    [ev] = [e for e in ctx.events if isinstance(e, Read)]
    assert (ev.agent, ev.document, ev.chunks, ev.memory) == \
        ("klaus_mueller", chunk.document, [rec.source], rec.id)
    assert parse_event(ev.to_json()) == ev
    # Once per part of the day: the next step of the same item reads nothing more.
    ctx.now = start + timedelta(minutes=10)
    await read_if_reading(klaus, step, ctx)
    assert len(klaus.memory.records({MemoryKind.reading})) == 1
    # Not a reading activity, and not at a place with documents: nothing is read.
    walk = Action("walk and think", "park_pond", ctx.now, ctx.now + timedelta(minutes=10))
    klaus.location, klaus.day_plan = "park_pond", [walk]
    await read_if_reading(klaus, walk, ctx)
    assert len(klaus.memory.records({MemoryKind.reading})) == 1


async def test_using_an_object_with_documents_reads_them_and_new_passages_first():
    maria = make_agent("maria_lopez")
    ctx = make_ctx(now=datetime(2023, 2, 13, 8, 0))
    maria.location = "hobbs_cafe_seating"
    read = []
    for i in range(3):
        now = ctx.now + timedelta(hours=i)
        ctx.now = now
        maria.day_plan = [Action("sit with a coffee", "hobbs_cafe_seating", now,
                                 now + timedelta(hours=1))]
        step = Action("browse", "hobbs_cafe_seating", now, now + timedelta(minutes=10),
                      object="cafe_bookshelf", object_state="in use")
        await read_if_reading(maria, step, ctx)
        read = [r.source for r in maria.memory.records({MemoryKind.reading})]
    shelf = set(WORLD.places.object_documents("cafe_bookshelf"))
    assert len(read) == len(set(read)) == 3  # a passage not read before, each time
    assert all(SMALLVILLE_KB.chunk(s).document in shelf for s in read)


def test_simulation_read_is_the_hook_for_a_read_action():
    sim = Simulation.load(str(SMALLVILLE), seed=1, embedder="hash")
    found = sim.read("Tom Moreno", MENU, query="lavender scone")
    [cit] = found.citations
    assert cit.chunk == f"{MENU}#4" and "$3.25" in cit.quote
    [rec] = sim.agent("Tom Moreno").memory.records({MemoryKind.reading})
    assert rec.source == f"{MENU}#4" and "$3.25" in rec.text
    assert [e.type for e in sim.events][-1] == "read"
    # The state round-trips with the reading memory in it.
    state, arrays = sim.get_state()
    sim.set_state(state, arrays)
    assert sim.agent("Tom Moreno").memory.records({MemoryKind.reading}) == [rec]
    with pytest.raises(UserError, match=r"no document 'knowledge/nope\.md'"):
        sim.read("Tom Moreno", "knowledge/nope.md")
    sim.close()


# -- interviews -------------------------------------------------------------------------------
def test_a_fact_only_the_documents_hold_is_known_only_to_a_resident_who_read_it():
    for p in WORLD.personas.values():  # the fact is in no persona, so it can only come from
        text = yaml.safe_dump(p.model_dump(mode="json")).lower()  # knowledge/
        assert "scone" not in text and "3.25" not in text
    sim = Simulation.load(str(SMALLVILLE), seed=1, embedder="hash")
    before = sim.interview("Klaus Mueller", SCONE)  # the menu is posted; he has not read it
    assert "3.25" not in before.answer and not before.citations
    sim.read("Klaus Mueller", MENU, query=SCONE)
    ans = sim.interview("Klaus Mueller", SCONE)
    assert "$3.25" in ans.answer
    assert [c.document for c in ans.citations] == [MENU]
    assert ans.citations[0].chunk == f"{MENU}#4" and f"{MENU}#4" in ans.sources
    assert "Lavender honey scone" in ans.citations[0].quote
    from agentsim.tui.dialogs import answer_text

    shown = answer_text(ans).plain
    assert "Cited:" in shown and f"[{MENU}#4]" in shown and "Hobbs Cafe Menu › Pastries" in shown
    for other in sorted(sim.agents):  # the library is not in anyone else's mind
        if other != "klaus_mueller":
            blind = sim.interview(other, SCONE)
            assert "3.25" not in blind.answer and not blind.citations, other
    sim.close()


async def test_the_interview_prompt_gets_only_passages_the_resident_read():
    seen = {}
    mind = OfflineMind()

    def fn(tid, v):
        seen[tid] = v
        if tid != "interview":
            return mind.answer(tid, v, 0)
        return {"answer": "It is $3.25.", "memory_ids": [],
                "sources": [f"{MENU}#4", "knowledge/smallville_gazette.md#2",
                            "knowledge/made_up.md#9"]}

    tom = make_agent("tom_moreno")
    ctx = make_ctx(fn)
    ans = await interview(tom, SCONE, ctx)  # he has read nothing: no passage, no citation
    assert "passages" not in seen["interview"] and ans.citations == []
    await memorize(tom, [Experience(MemoryKind.reading, "I read in Hobbs Cafe Menu › Pastries: "
                                    "Lavender honey scone: $3.25.", source=f"{MENU}#4")], ctx)
    ans = await interview(tom, SCONE, ctx)
    assert [k["id"] for k in seen["interview"]["passages"]] == [f"{MENU}#4"]
    assert "Lavender honey scone" in seen["interview"]["passages"][0]["text"]
    # a passage it never read (the gazette's) and one that does not exist are dropped
    assert [c.chunk for c in ans.citations] == [f"{MENU}#4"]


def test_interview_answers_cite_no_document_the_resident_never_read():
    sim = Simulation.load(str(SMALLVILLE), seed=2, embedder="hash")
    sim.read("Tom Moreno", "knowledge/smallville_gazette.md",
             query="Valentine's Day party at Hobbs Cafe")
    sim.read("Klaus Mueller", MENU, query=SCONE)
    sim.run(ticks=2)
    for q in (SCONE, "What does the Smallville Gazette say about the Valentine's Day party?"):
        for ans in sim.interview("all", q):
            read = {r.source for r in sim.agents[ans.agent].memory.records({MemoryKind.reading})}
            assert {c.chunk for c in ans.citations} <= read, (ans.agent, q)
    menu = {a.agent for a in sim.interview("all", SCONE)
            if any(c.document == MENU for c in a.citations)}
    assert menu == {"klaus_mueller"}
    sim.close()


def test_interview_cli_lists_the_sources(tmp_path):
    out = tmp_path / "runs"
    sim = Simulation.load(str(SMALLVILLE), embedder="hash", out=str(out))
    sim.read("Klaus Mueller", MENU, query=SCONE)
    sim.run(ticks=1)
    sim.checkpoint()
    sim.close()
    [run] = run_dirs(out)
    r = CliRunner().invoke(main, ["interview", str(run), "Klaus Mueller", SCONE])
    assert r.exit_code == 0, r.output
    assert "$3.25" in r.output and f"[{MENU}#4] Hobbs Cafe Menu › Pastries" in r.output
    r = CliRunner().invoke(main, ["interview", str(run), "Tom Moreno", SCONE])
    assert r.exit_code == 0, r.output
    assert "3.25" not in r.output and MENU not in r.output


# -- conversations ----------------------------------------------------------------------------
async def test_a_speaker_is_shown_only_passages_it_has_read_and_the_listener_keeps_words():
    """Issue 14: the documents are the world's library, not every mind. A passage reaches a
    conversation only through a speaker who read it; the listener keeps what was said."""
    gazette = "knowledge/smallville_gazette.md#2"
    shown: list[tuple[str, str | None]] = []
    mind = OfflineMind()

    def fn(tid, v):
        if tid == "converse_turn":
            fact = v.get("fact")
            shown.append((v["persona"]["name"], fact["id"] if fact else None))
            if fact:
                return {"utterance": "The Smallville Gazette says the party is at Hobbs Cafe.",
                        "cites": fact["id"], "end_conversation": v["turn"] >= 3}
        return mind.answer(tid, v, 0)

    async def talk(tom_read: bool):
        isabella, tom = make_agent("isabella_rodriguez"), make_agent("tom_moreno")
        tom.location = isabella.location
        ctx = make_ctx(fn, now=datetime(2023, 2, 13, 9, 0), fact_threshold=0.3)
        if tom_read:
            await memorize(tom, [Experience(
                MemoryKind.reading, "I read in The Smallville Gazette › Valentine's Day party "
                "at Hobbs Cafe: Isabella Rodriguez invites the whole town.", source=gazette)],
                ctx)
        await memorize(isabella, [Experience(MemoryKind.observation,
                                             "I am planning a Valentine's Day party at Hobbs "
                                             "Cafe", importance=8)], ctx)
        await converse(isabella, tom, Relationships.from_personas(WORLD.personas), ctx)
        [conv] = [e for e in ctx.events if isinstance(e, Conversation)]
        return isabella, conv

    shown.clear()
    _, conv = await talk(tom_read=False)
    assert all(f is None for _, f in shown) and not any(t.cites for t in conv.turns)
    shown.clear()
    isabella, conv = await talk(tom_read=True)
    assert {f for who, f in shown if f} == {gazette}
    assert all(who == "Tom Moreno" for who, f in shown if f)  # Isabella never read it
    cited = [t for t in conv.turns if t.cites]
    assert cited and cited[0].speaker == "tom_moreno" and cited[0].cites == gazette
    assert not [r for r in isabella.memory.records() if r.source == gazette]
    assert next(r.text for r in isabella.memory.records() if r.source == "Tom Moreno") == (
        'Tom Moreno said to me: "The Smallville Gazette says the party is at Hobbs Cafe."')


def test_offline_converse_turn_cites_only_a_fact_that_bears_on_what_was_said():
    mind = OfflineMind()
    fact = {"id": "knowledge/smallville_gazette.md#3", "title": "The Smallville Gazette › Votes",
            "text": "The mayoral election is on Monday, February 20. Polls open at 8 am."}
    v = CONVERSE_TURN.sample(
        persona={"name": "Tom Moreno"}, other={"name": "Sam Moore"}, now="10:00",
        memories=[], turn=1, max_turns=6, fact=fact,
        transcript=[{"speaker": "Sam Moore", "text": "Will you vote in the mayoral election?",
                     "cites": None}]).dump()
    out = mind.answer("converse_turn", v)
    assert out["cites"] == fact["id"]
    assert 'the Smallville Gazette says: "The mayoral election is on Monday, February 20."' \
        in out["utterance"]
    assert mind.answer("converse_turn", v) == out  # deterministic
    off_topic = {**v, "transcript": [{"speaker": "Sam Moore", "text": "Nice weather today!",
                                      "cites": None}]}
    assert mind.answer("converse_turn", off_topic)["cites"] is None


def test_offline_interview_quotes_a_passage_only_when_it_answers_the_question():
    mind = OfflineMind()
    passages = [{"id": "knowledge/notes.md#2", "title": "Town Notes › Bakery",
                 "text": "The bakery sells rye bread for four dollars.\n\nIt opens at seven."}]
    memories = [{"id": 0, "text": "I bought rye bread at the bakery yesterday", "kind":
                 "observation", "source": None, "event": None},
                {"id": 1, "text": "I am tired", "kind": "observation", "source": None,
                 "event": None}]
    base = {"persona": {"name": "Ann Lee"}, "now": "Monday 10:00", "memories": memories,
            "passages": passages}
    out = mind.answer("interview", {**base, "question": "What does rye bread cost at the bakery?"})
    assert out["sources"] == ["knowledge/notes.md#2"]
    assert out["answer"].startswith(
        'The Town Notes says: "The bakery sells rye bread for four dollars."')
    assert out["memory_ids"] == [0]  # the memory that shares a word, not the other one
    plain = mind.answer("interview", {**base, "question": "How are you feeling?"})
    assert not plain.get("sources") and plain["memory_ids"]
