"""The action API as the skill prompts show it to the LLM (`skill_write`, `skill_fix`, ...).

It lives apart from `api.py`, the API itself, because the sandbox's child loads api.py by its
path at every run and needs none of this text; `tests/test_sandbox.py` checks that every
action and reading of `api.WorldProxy` is named here. The numbers in it (50 actions, 1 to
240 minutes, 24 hours) are `api.MAX_STEPS`, `api.MAX_ACTION_MINUTES` and
`api.MAX_TOTAL_MINUTES`.
"""

API_DOC = """\
A skill is one Python function whose first parameter is `world`; its other parameters are the
skill's arguments, e.g.

    def bake_bread(world, loaves: int = 2):
        \"\"\"Bake bread in the cafe oven and put it out for sale.\"\"\"
        world.move_to("hobbs_cafe_kitchen")
        world.use("hobbs_cafe_oven", "baking", minutes=40, activity=f"baking {loaves} loaves")
        world.wait(10, "letting the bread cool")
        return f"baked {loaves} loaves"

The function runs on the world as its agent sees it now. Every action below is carried out
in order, one after the other, and moves the clock on by its minutes; reading the world
afterwards shows the result (after move_to, world.location is the new place). An action that
breaks the world's rules raises ActionError with the reason.

Reading the world (no time passes):
    world.location              id of the place the agent is at
    world.time                  the time of day, "HH:MM"
    world.minutes_used          minutes the skill's actions have taken so far
    world.places()              every place id, sorted
    world.place_name(place)     a place's name
    world.find_place(text)      the id of a place whose id or name contains text
                                (case-insensitive; the shortest such id)
    world.objects_here()        objects at the agent's place: [{"id", "name", "state", "states"}]
                                ("states" lists the states it can be put in; [] means any)
    world.state_of(object)      an object's current state
    world.people_here()         names of the other people at the agent's place
    world.documents_here()      ids of the documents one can read here
    world.minutes_to(place)     walking minutes from here to a place (shortest route)

Acting (each returns None):
    world.move_to(place)                          walk to a place (a place id)
    world.use(object, state, minutes=10, activity=None)
                                                  put an object here in a state for a while,
                                                  e.g. use("cafe_oven", "baking", minutes=40)
    world.say(person, text)                       say something to a person here (a name or
                                                  id); takes 5 minutes
    world.wait(minutes, activity="waiting")       spend some minutes where you are
    world.read(document)                          read a document here; takes 10 minutes
    world.log(*values)                            note something for debugging (not an action;
                                                  print() notes too)

minutes are whole numbers from 1 to 240. A skill may take at most 50 actions and 24 hours
in all. Imports allowed: math, random, itertools, functools, statistics, re, string,
collections, datetime, json. Use world.time for the time of day, not the computer's clock.
No files, network, processes, eval/exec, getattr, or names starting with "_".
Return a short text saying what was done.
"""
