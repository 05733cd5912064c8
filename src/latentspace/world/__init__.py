"""Plan and act in latent space: Two Rooms (gymnasium), a JEPA world model, latent MPPI/CEM planning,
against a pixel world model, goal-conditioned behaviour cloning and the true simulator.

    from latentspace.world import RoomsConfig, make_trajectories, build, train_world, Planner, PlannerConfig
    data = make_trajectories(RoomsConfig(), episodes=500, steps=50, seed=0)
    model, _ = train_world(build("jepa", 64), data)
    planner = Planner(model, PlannerConfig(method="mppi"))

Guide: docs/world.md.
"""

from latentspace.world.checkpoint import build, load_world, save_world
from latentspace.world.data import Trajectories, make_trajectories
from latentspace.world.evaluate import eval_tasks, evaluate
from latentspace.world.planning import Planner, PlannerConfig, run_episode
from latentspace.world.train import TrainConfig, train_world
from latentspace.world.two_rooms import RoomsConfig, TwoRooms

__all__ = ["Planner", "PlannerConfig", "RoomsConfig", "TrainConfig", "Trajectories", "TwoRooms", "build",
           "eval_tasks", "evaluate", "load_world", "make_trajectories", "run_episode", "save_world", "train_world"]
