"""Agents that pass their working memory (the KV cache), not text — in a few lines.

    .venv/bin/python examples/agents.py                # the bundled SmolLM2-135M-Instruct
    .venv/bin/python examples/agents.py --model tiny   # a tiny random model (seconds)
"""

import argparse
from pathlib import Path

import latentspace as ls
from latentspace.agents import Agent, run_sequential
from latentspace.agents.pipelines import load_pipeline, run

parser = argparse.ArgumentParser()
parser.add_argument("--model", default=ls.DEFAULT_MODEL)
args = parser.parse_args()

lm = ls.load(args.model)
question = "Tom has 3 apples and buys 4 more. How many apples does he have?"

# 1. two agents in Python: the planner thinks 4 continuous thoughts, the solver reads its memory and answers
team = [Agent("planner", "Make a short plan for: {question}", latent_steps=4),
        Agent("solver", "Answer with only the final answer. {question}")]
result = run_sequential(lm, team, question, max_new_tokens=24)
print("latent team:", result.texts[0].strip())
for turn in result.turns:  # what each agent received and what its thoughts read as under the model's own head
    tops = [step.top[0][0] for step in turn.thoughts[0]]
    print(f"  {turn.agent}: received {turn.received_slots} slots, thoughts read as {tops}")

# 2. a built-in pipeline in its three modes: memory hand-over, agents writing text, one agent alone
pipeline = load_pipeline("hierarchical")
for mode in ("latent", "text", "single"):
    r = run(lm, pipeline, question, mode, max_new_tokens=24, agent_tokens=32)
    print(f"{mode:>6}: {r.output_tokens:4d} tokens, {r.processed_positions:4d} positions, {r.seconds:5.2f} s | "
          f"{r.texts[0].strip()[:60]!r}")

# 3. a graph pipeline from a file (planner -> solver and checker -> answerer), its memory kept and reused
graph = load_pipeline(Path(__file__).parent / "pipelines" / "plan_and_check.yaml")
first = run(lm, graph, question, "latent", max_new_tokens=24, keep_memory=True)
follow_up = run(lm, load_pipeline("sequential"), "And if he then eats 2?", "latent", max_new_tokens=24,
                memory=first.memory)  # the next team starts from everything the first one computed
print("graph:", first.texts[0].strip()[:60], "| follow-up:", follow_up.texts[0].strip()[:60])
