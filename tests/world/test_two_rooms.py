"""Two Rooms obeys its wall, is deterministic under a seed and passes gymnasium's checker."""

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from latentspace.errors import LatentspaceError
from latentspace.world.data import make_trajectories
from latentspace.world.two_rooms import Layout, RoomsConfig, TwoRooms, in_wall, move


def test_gymnasium_checker_passes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its note about envs made without gymnasium.make
        check_env(TwoRooms(RoomsConfig(size=32)))


def crosses_outside_door(states: np.ndarray, layout: Layout, config: RoomsConfig) -> bool:
    """Whether a step of a trajectory changes side with the crossing height outside the door."""
    a, b = states[:-1], states[1:]
    side_a, side_b = a[:, 0] > layout.wall_x, b[:, 0] > layout.wall_x
    for p, q in zip(a[side_a != side_b], b[side_a != side_b]):
        y = p[1] + (q[1] - p[1]) * (layout.wall_x - p[0]) / (q[0] - p[0])
        if abs(y - layout.door_y) > config.door / 2:
            return True
    return False


@pytest.mark.parametrize("random_layout", [False, True])
def test_no_trajectory_crosses_the_wall_outside_the_door(random_layout):
    config = RoomsConfig(size=16, random_layout=random_layout)
    data = make_trajectories(config, 200, 60, seed=3)
    crossed = 0
    for e in range(data.episodes):
        layout = Layout(*map(float, data.layouts[e]))
        states = data.states[e].astype(np.float64)
        assert not crosses_outside_door(states, layout, config)
        assert not in_wall(states[:, 0], states[:, 1], layout, config).any()
        crossed += (states[:, 0] > layout.wall_x).any() and (states[:, 0] < layout.wall_x).any()
    assert crossed >= 10  # the door is used: the test would see a crossing elsewhere


def test_pushing_into_the_wall_stops_at_it_and_the_door_lets_through():
    config, layout = RoomsConfig(), Layout(0.5, 0.5)
    blocked = np.array([0.4, 0.1])
    for _ in range(10):
        blocked = move(blocked, np.array([1.0, 0.0]), layout, config)
    assert blocked[0] < 0.5 - config.wall / 2 and blocked[1] == pytest.approx(0.1)
    through = np.array([0.4, 0.5])
    for _ in range(10):
        through = move(through, np.array([1.0, 0.0]), layout, config)
    assert through[0] > 0.9


def test_the_same_seed_gives_the_same_episode_and_data():
    a, b = TwoRooms(RoomsConfig(size=16, random_layout=True)), TwoRooms(RoomsConfig(size=16, random_layout=True))
    oa, ia = a.reset(seed=5)
    ob, ib = b.reset(seed=5)
    assert np.array_equal(oa, ob) and ia["layout"] == ib["layout"]
    for action in np.random.default_rng(0).uniform(-1, 1, (20, 2)):
        assert np.array_equal(a.step(action)[0], b.step(action)[0])
    one, two = make_trajectories(RoomsConfig(size=16), 4, 10, seed=1), make_trajectories(RoomsConfig(size=16), 4, 10, seed=1)
    assert np.array_equal(one.observations, two.observations) and np.array_equal(one.actions, two.actions)
    assert not np.array_equal(one.actions, make_trajectories(RoomsConfig(size=16), 4, 10, seed=2).actions)


def test_a_goal_is_reached_within_its_radius_and_bad_input_is_refused():
    env = TwoRooms(RoomsConfig(size=16))
    env.reset(options={"start": (0.2, 0.5), "goal": (0.3, 0.5)})
    *_, terminated, truncated, _ = env.step(np.array([1.0, 0.0]))
    assert terminated and not truncated
    with pytest.raises(LatentspaceError, match="outside the arena"):
        env.reset(options={"goal": (1.5, 0.5)})
    with pytest.raises(LatentspaceError, match="inside the wall"):
        env.reset(options={"goal": (0.5, 0.1)})
    with pytest.raises(LatentspaceError, match="2 finite numbers"):
        env.step(np.array([1.0, 0.0, 0.0]))
    with pytest.raises(LatentspaceError, match="thinner than one substep"):
        RoomsConfig(max_step=0.25, wall=0.02)
