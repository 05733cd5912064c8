"""Two Rooms: a point agent in a square arena split by a wall with a door (after PLDM / EB-JEPA).

The arena is the unit square; a vertical wall of thickness ``wall`` stands at ``wall_x`` and has
an opening of height ``door`` centred at ``door_y``. An action is a 2-D vector in [-1, 1]²; the
agent moves by ``action * max_step`` in substeps shorter than the wall is thick, and a substep that
would enter the wall outside the door (or leave the arena) is not taken — so no trajectory crosses
the wall anywhere but through the door (tested). Observations are ``size``×``size`` images with two
channels (the agent as a small blob; the walls), uint8; ``info["state"]`` holds the true (x, y).

A goal is given at reset (``options={"goal": (x, y)}``, or sampled); an episode succeeds when the
agent comes within ``radius`` of it, and is truncated after ``max_steps``. ``random_layout`` draws
the wall's place and the door's height at every reset.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import gymnasium as gym
import numpy as np

from latentspace.core.errors import LatentspaceError

SUBSTEPS = 4


@dataclass(frozen=True)
class RoomsConfig:
    size: int = 64  # observation side, pixels
    wall_x: float = 0.5
    door_y: float = 0.5
    door: float = 0.24  # opening height
    wall: float = 0.04  # thickness (> max_step * sqrt(2) / SUBSTEPS: no substep jumps over it)
    max_step: float = 0.1
    max_steps: int = 100
    radius: float = 0.08  # success: within this distance of the goal
    random_layout: bool = False

    def __post_init__(self) -> None:
        if not 16 <= self.size <= 256:
            raise LatentspaceError(f"size {self.size}: observations are 16 to 256 pixels a side")
        if not (0.2 <= self.wall_x <= 0.8 and 0.15 <= self.door_y <= 0.85):
            raise LatentspaceError("the wall stands at 0.2-0.8 and the door's centre at 0.15-0.85 of the arena")
        if not 0.05 <= self.door <= 0.6 or not 0.0 < self.max_step <= 0.25:
            raise LatentspaceError("door is 0.05-0.6 of the arena, max_step 0-0.25")
        if self.max_step * math.sqrt(2) / SUBSTEPS >= self.wall:
            raise LatentspaceError(f"wall {self.wall} is thinner than one substep ({self.max_step * math.sqrt(2) / SUBSTEPS:.3f}):"
                                   " the agent could jump over it")
        if self.max_steps < 1 or not 0.0 < self.radius < 0.5:
            raise LatentspaceError("max_steps >= 1 and 0 < radius < 0.5")

    def key(self) -> dict:
        """What a dataset or a checkpoint must share with the environment it is used in."""
        return asdict(self)


@dataclass(frozen=True)
class Layout:
    wall_x: float
    door_y: float


def in_wall(x: np.ndarray, y: np.ndarray, layout: Layout, config: RoomsConfig) -> np.ndarray:
    """Whether points are inside the wall (its band, outside the door's opening)."""
    band = np.abs(x - layout.wall_x) < config.wall / 2
    door = np.abs(y - layout.door_y) < config.door / 2
    return band & ~door


def move(state: np.ndarray, action: np.ndarray, layout: Layout, config: RoomsConfig) -> np.ndarray:
    """Next states ``[..., 2]`` of states and actions ``[..., 2]`` (vectorised: planners call it on batches)."""
    state = np.asarray(state, dtype=np.float64)
    delta = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0) * config.max_step / SUBSTEPS
    for _ in range(SUBSTEPS):
        proposed = state + delta
        inside = ((proposed >= 0.0) & (proposed <= 1.0)).all(-1)
        ok = inside & ~in_wall(proposed[..., 0], proposed[..., 1], layout, config)
        state = np.where(ok[..., None], proposed, state)
    return state


def room_of(x: np.ndarray, layout: Layout) -> np.ndarray:
    """0 left of the wall, 1 right of it."""
    return (np.asarray(x) > layout.wall_x).astype(np.int64)


class Renderer:
    """Images of states on one layout: a fixed wall channel and a Gaussian blob for the agent."""

    def __init__(self, layout: Layout, config: RoomsConfig) -> None:
        n = config.size
        centres = (np.arange(n) + 0.5) / n
        self.grid_x, self.grid_y = np.meshgrid(centres, centres)  # [row = y, column = x]
        walls = in_wall(self.grid_x, self.grid_y, layout, config)
        walls[[0, -1], :] = walls[:, [0, -1]] = True  # the arena's border
        self.walls = (walls * 255).astype(np.uint8)
        self.sigma = max(1.0, n / 40) / n

    def __call__(self, states: np.ndarray) -> np.ndarray:
        """uint8 ``[..., 2, size, size]`` for states ``[..., 2]`` (image rows run along y)."""
        states = np.asarray(states, dtype=np.float64)
        dx = self.grid_x - states[..., 0, None, None]
        dy = self.grid_y - states[..., 1, None, None]
        agent = (np.exp(-(dx ** 2 + dy ** 2) / (2 * self.sigma ** 2)) * 255).astype(np.uint8)
        walls = np.broadcast_to(self.walls, agent.shape)
        return np.stack([agent, walls], axis=-3)


def check_point(point, what: str, layout: Layout, config: RoomsConfig) -> np.ndarray:
    p = np.asarray(point, dtype=np.float64)
    if p.shape != (2,) or not np.isfinite(p).all():
        raise LatentspaceError(f"{what} is a point (x, y), got {np.asarray(point).tolist()}")
    if not ((0.0 <= p) & (p <= 1.0)).all():
        raise LatentspaceError(f"{what} {p.tolist()} is outside the arena (0-1 on both axes)")
    if in_wall(p[0], p[1], layout, config):
        raise LatentspaceError(f"{what} {p.tolist()} is inside the wall")
    return p


class TwoRooms(gym.Env):
    """The Two Rooms environment behind the gymnasium API (``check_env`` passes)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, config: RoomsConfig | None = None, render_mode: str | None = None) -> None:
        self.config = config or RoomsConfig()
        n = self.config.size
        self.observation_space = gym.spaces.Box(0, 255, (2, n, n), dtype=np.uint8)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.render_mode = render_mode
        self.layout = Layout(self.config.wall_x, self.config.door_y)
        self.renderer = Renderer(self.layout, self.config)
        self.state = np.array([0.25, 0.5])
        self.goal = np.array([0.75, 0.5])
        self.steps = 0

    # -- sampling ----------------------------------------------------------------------------
    def free_point(self, room: int | None = None) -> np.ndarray:
        """A random point off the wall and the border (in ``room``: 0 left, 1 right, if given)."""
        margin = self.config.wall / 2 + 0.02
        for _ in range(1000):
            p = self.np_random.uniform(0.05, 0.95, size=2)
            if abs(p[0] - self.layout.wall_x) > margin and (room is None or room_of(p[0], self.layout) == room):
                return p
        raise LatentspaceError("could not sample a free point")  # unreachable with the checked layouts

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"start", "goal", "layout"}
        if unknown:
            raise LatentspaceError(f"unknown reset option(s) {sorted(unknown)}; valid: start, goal, layout")
        if "layout" in options:
            self.layout = Layout(*map(float, options["layout"]))
        elif self.config.random_layout:
            self.layout = Layout(float(self.np_random.uniform(0.35, 0.65)), float(self.np_random.uniform(0.25, 0.75)))
        self.renderer = Renderer(self.layout, self.config)
        self.state = (check_point(options["start"], "start", self.layout, self.config) if "start" in options
                      else self.free_point())
        self.goal = (check_point(options["goal"], "goal", self.layout, self.config) if "goal" in options
                     else self.free_point())
        self.steps = 0
        return self.renderer(self.state), self._info()

    def step(self, action):
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (2,) or not np.isfinite(a).all():
            raise LatentspaceError(f"an action is 2 finite numbers, got shape {a.shape}")
        self.state = move(self.state, a, self.layout, self.config)
        self.steps += 1
        distance = float(np.linalg.norm(self.state - self.goal))
        terminated = distance < self.config.radius
        truncated = not terminated and self.steps >= self.config.max_steps
        return self.renderer(self.state), -distance, terminated, truncated, self._info()

    def render(self):
        """RGB ``[size, size, 3]``: walls grey, agent red, goal green."""
        obs, goal = self.renderer(self.state), self.renderer(self.goal)
        rgb = np.stack([np.maximum(obs[0], obs[1] // 2), np.maximum(goal[0], obs[1] // 2), obs[1] // 2], -1)
        return rgb.astype(np.uint8)

    def goal_observation(self) -> np.ndarray:
        return self.renderer(self.goal)

    def _info(self) -> dict:
        return {"state": self.state.copy(), "goal": self.goal.copy(),
                "layout": (self.layout.wall_x, self.layout.door_y)}
