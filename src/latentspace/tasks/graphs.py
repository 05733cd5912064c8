"""The one breadth-first search over a task's graph (ProsQA's ``edge_list`` of node indices).

Shared by both ProsQA generators (the shortest path a CoT walks, `prosqa` and `prosqa_sym`; its
frontier) and the study of
trained thoughts (each node's depth from the root, `train.studies.analysis`), so both read a graph the
same way.
"""

from __future__ import annotations

from collections import deque


def bfs(n: int, edges: list[tuple[int, int]], root: int) -> tuple[list[int | None], list[int | None]]:
    """(depth, parent) of every node; children in index order so the path does not depend on edge order."""
    children: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges:
        children[u].append(v)
    depth: list[int | None] = [None] * n
    parent: list[int | None] = [None] * n
    depth[root], todo = 0, deque([root])
    while todo:
        node = todo.popleft()
        for child in sorted(children[node]):
            if depth[child] is None:
                depth[child], parent[child] = depth[node] + 1, node
                todo.append(child)
    return depth, parent


def path_to(parent: list[int | None], root: int, goal: int) -> list[int]:
    """The nodes from ``root`` to a reachable ``goal`` along the parents `bfs` found (both ends included)."""
    path = [goal]
    while path[-1] != root:
        path.append(parent[path[-1]])
    return path[::-1]


def node_depths(n: int, edges: list, root: int) -> list[int | None]:
    """Shortest distance of every node from ``root`` along the edges (None: unreachable)."""
    return bfs(n, edges, root)[0]
