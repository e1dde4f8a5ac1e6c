"""Seed skills for Hobbs Cafe. Each function is a skill: its docstring is the description the
library retrieves it by; it acts only through `world`, the action API."""


def brew_coffee(world, minutes=10):
    """Brew a pot of coffee with the coffee machine at the Hobbs Cafe counter."""
    world.move_to("hobbs_cafe_counter")
    world.use("cafe_coffee_machine", "brewing", minutes=minutes, activity="brewing coffee")
    return world.state_of("cafe_coffee_machine")


def bake_in_the_cafe_oven(world, what="bread", minutes=40):
    """Bake bread or pastries in the oven of the Hobbs Cafe kitchen, then let them cool."""
    world.move_to("hobbs_cafe_kitchen")
    world.use("cafe_oven", "baking", minutes=minutes, activity=f"baking {what} in the oven")
    world.wait(10, f"letting the {what} cool")
    return f"{what} baked"


def serve_at_the_register(world, minutes=15):
    """Take orders and payments at the Hobbs Cafe cash register."""
    world.move_to("hobbs_cafe_counter")
    world.use("cafe_register", "in use", minutes=minutes, activity="taking orders at the register")
    return world.state_of("cafe_register")


def open_the_cafe(world):
    """Open Hobbs Cafe in the morning: start the coffee machine and get the register ready."""
    world.move_to("hobbs_cafe_counter")
    if world.state_of("cafe_coffee_machine") != "brewing":
        world.use("cafe_coffee_machine", "brewing", minutes=10, activity="starting the coffee")
    world.use("cafe_register", "in use", minutes=5, activity="opening the register")
    return "open"
