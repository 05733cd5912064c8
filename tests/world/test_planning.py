"""On a planted model (the true state, exact dynamics) MPPI and CEM reach the goal through the door;
with a random model they do no better than chance."""

import pytest
import torch

from latentspace.errors import LatentspaceError
from latentspace.world.evaluate import eval_tasks, evaluate
from latentspace.world.oracle import RandomModel, TrueStateModel
from latentspace.world.planning import METHODS, Planner, PlannerConfig
from latentspace.world.two_rooms import Layout, RoomsConfig, TwoRooms


@pytest.mark.parametrize("method", METHODS)
def test_planning_on_the_true_state_reaches_goals_in_the_other_room_and_a_random_model_does_not(method):
    torch.set_num_threads(1)
    config = RoomsConfig(size=16, max_steps=60)
    tasks = eval_tasks(config, 12)
    oracle = TrueStateModel(config, Layout(config.wall_x, config.door_y))
    planned, episodes = evaluate(config, lambda i: Planner(oracle, PlannerConfig(method=method), seed=i), tasks)
    assert planned["success"] >= 0.75, planned
    assert all(e.states[0][0] < 0.5 < e.goal[0] or e.goal[0] < 0.5 < e.states[0][0] for e in episodes)
    blind, _ = evaluate(config, lambda i: Planner(RandomModel(config), PlannerConfig(method=method), seed=i), tasks)
    assert blind["success"] <= 0.25, blind


@pytest.mark.parametrize("cost", ["sum", "end"])
def test_every_planning_cost_reaches_goals_on_the_true_state(cost):
    torch.set_num_threads(1)
    config = RoomsConfig(size=16, max_steps=60)
    oracle = TrueStateModel(config, Layout(config.wall_x, config.door_y))
    planned, _ = evaluate(config, lambda i: Planner(oracle, PlannerConfig(cost=cost), seed=i), eval_tasks(config, 12))
    assert planned["success"] >= 0.75, planned


def test_the_oracle_reads_the_true_state_off_the_image():
    config = RoomsConfig(size=32)
    env = TwoRooms(config)
    obs, info = env.reset(options={"start": (0.3, 0.7), "goal": (0.8, 0.2)})
    z = TrueStateModel(config, env.layout).encode(torch.as_tensor(obs)[None])[0]
    assert torch.allclose(z, torch.tensor([0.3, 0.7]), atol=1 / 32)


@pytest.mark.parametrize("bad", [{"method": "greedy"}, {"horizon": 0}, {"samples": 2}, {"replan_every": 99},
                                 {"noise": -1.0}, {"elite": 1.5}, {"cost": "max"}])
def test_planner_settings_out_of_range_are_refused(bad):
    with pytest.raises(LatentspaceError, match="planner"):
        PlannerConfig(**bad)
