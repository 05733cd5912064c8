"""One home for the budgets (issue 37): the CLI, the server and the strategies read `core.limits`."""

from __future__ import annotations

import typer

from latentspace.core import limits


def option_max(app, *path: str, option: str):
    """The declared upper bound of ``--option`` of the command at ``path`` (click's IntRange)."""
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    (param,) = [p for p in command.params if f"--{option}" in p.opts]
    return param.max  # typer keeps the declared bound on the option (its click type is built lazily)


def test_the_cli_bounds_are_the_declared_budgets():
    from latentspace.cli.app import app

    assert option_max(app, "think", option="steps") == limits.MAX_LATENT_STEPS
    for path in (("think",), ("generate",), ("agents",), ("audit",)):
        assert option_max(app, *path, option="max-tokens") == limits.MAX_NEW_TOKENS, path
    for path in (("audit",), ("bench",), ("bridge", "train"), ("world", "train")):
        assert option_max(app, *path, option="batch-size") == limits.MAX_BATCH, path
    assert option_max(app, "lens", "train", option="batch-size") == limits.MAX_TRAIN_BATCH


def test_the_server_bounds_are_the_declared_budgets(tmp_path):
    from latentspace.serve.config import ServeConfig
    from latentspace.serve.schemas import AgentsRun, LatentOptions

    def upper(model, field):
        return next(m.le for m in model.model_fields[field].metadata if hasattr(m, "le"))

    assert ServeConfig(tmp_path).max_tokens_limit == limits.MAX_NEW_TOKENS
    assert upper(AgentsRun, "max_tokens") == upper(AgentsRun, "agent_tokens") == limits.MAX_NEW_TOKENS
    assert upper(LatentOptions, "steps") == limits.MAX_LATENT_STEPS


def test_the_strategies_and_trainers_bounds_are_the_declared_budgets():
    from latentspace.reason.base import Reasoner
    from latentspace.train.profiles import Profile
    from latentspace.world.train import TrainConfig

    ranges = Reasoner.RANGES
    assert ranges["max_new_tokens"].hi == limits.MAX_NEW_TOKENS
    assert ranges["max_latent_steps"].hi == limits.MAX_LATENT_STEPS
    assert TrainConfig.RANGES["batch_size"].hi == limits.MAX_BATCH
    assert Profile.RANGES["batch_size"].hi == limits.MAX_TRAIN_BATCH
