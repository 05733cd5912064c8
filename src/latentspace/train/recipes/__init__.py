"""Training recipes, one file each: a small dataclass saying what each epoch trains on."""

from latentspace.train.recipes.base import RECIPES, Recipe, get_recipe
from latentspace.train.recipes import codi, coconut, cot, cot2, icot, nocot, pause, visual  # noqa: F401  (registers them)

__all__ = ["RECIPES", "Recipe", "get_recipe"]
