"""The one breadth-first search over a task graph (`tasks.graphs`), shared by both ProsQA generators and the thought analysis."""

from latentspace.tasks.graphs import bfs, node_depths, path_to


def test_depths_are_shortest_distances_and_unreached_nodes_are_none():
    edges = [(0, 2), (2, 4), (0, 3), (3, 4), (1, 5)]
    depth, parent = bfs(6, edges, 0)
    assert depth == [0, None, 1, 1, 2, None]
    assert parent[0] is None and parent[2] == parent[3] == 0 and parent[1] is None and parent[5] is None
    assert node_depths(6, edges, 0) == depth


def test_the_parent_does_not_depend_on_edge_order():
    # two shortest paths to 3 (0 -> 1 -> 3 and 0 -> 2 -> 3): the lower-index child is searched first
    edges = [(0, 2), (2, 3), (0, 1), (1, 3)]
    assert bfs(4, edges, 0)[1][3] == 1
    assert bfs(4, list(reversed(edges)), 0)[1][3] == 1


def test_a_cycle_is_visited_once():
    assert bfs(3, [(0, 1), (1, 2), (2, 0)], 0) == ([0, 1, 2], [None, 0, 1])


def test_the_path_runs_from_the_root_to_the_goal_along_the_parents():
    edges = [(0, 2), (2, 3), (0, 1), (1, 3), (3, 4)]
    depth, parent = bfs(5, edges, 0)
    assert path_to(parent, 0, 4) == [0, 1, 3, 4] and len(path_to(parent, 0, 4)) - 1 == depth[4]
    assert path_to(parent, 0, 0) == [0]


def test_prosqa_paths_are_shortest_and_follow_stated_edges():
    from latentspace.tasks import prosqa

    for item in prosqa.generate(20, seed=3, shape=prosqa.SMALL):
        meta = item.meta
        depth = node_depths(meta["nodes"], meta["edge_list"], meta["root"])
        assert meta["hops"] == depth[meta["target"]] == len(item.steps)
