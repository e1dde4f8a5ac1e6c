"""Seed skills anyone in Smallville can use: music, cooking at home, the park, news."""


def play_the_piano(world, minutes=30):
    """Play a piano wherever there is one here (the cafe, the college music room, a home)."""
    pianos = [o for o in world.objects_here() if "piano" in o["name"]]
    if not pianos:
        raise LookupError("there is no piano here")
    world.use(pianos[0]["id"], "being played", minutes=minutes, activity="playing the piano")
    return pianos[0]["id"]


def cook_a_meal_here(world, dish="a meal", minutes=30):
    """Cook a meal on the stove at the place the agent is in (a home or a kitchen)."""
    stoves = [o for o in world.objects_here() if o["name"] == "stove"]
    if not stoves:
        raise LookupError("there is no stove here")
    world.use(stoves[0]["id"], "cooking", minutes=minutes, activity=f"cooking {dish}")
    world.wait(15, f"eating {dish}")
    return dish


def tend_the_park_flowers(world, minutes=20):
    """Tend the flower bed in the garden of Johnson Park."""
    world.move_to("park_garden")
    world.use("park_flower_bed", "being tended", minutes=minutes, activity="tending the flowers")
    return world.state_of("park_flower_bed")


def tell_the_news(world, person, news):
    """Find a person where they are and tell them a piece of news."""
    world.say(person, news)
    return person


def read_the_gazette(world):
    """Read the Smallville Gazette where it is posted (at Hobbs Cafe)."""
    world.move_to("hobbs_cafe_seating")
    world.read("knowledge/smallville_gazette.md")
    return "read"
