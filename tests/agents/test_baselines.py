"""Text and single-agent baselines: same agents, same decoding, and text really passed on."""

from latentspace.agents import Agent, run_sequential, run_single, run_text_sequential
from latentspace.agents.turns import prompt_chunk, with_notes

AGENTS = [Agent("planner", "Plan: {question}", latent_steps=2), Agent("solver", "Answer: {question}", latent_steps=1)]
QUESTION = "two plus two"


def test_text_pipeline_agents_read_what_the_earlier_ones_wrote(llama):
    text = run_text_sequential(llama, AGENTS, QUESTION, max_new_tokens=5, agent_tokens=4, chat=False)
    planner, solver = text.turns
    assert planner.texts and len(planner.token_ids[0]) == 4
    notes = f"planner: {planner.texts[0].strip()}\n"
    prompt = with_notes(AGENTS[1].prompt(QUESTION), notes)
    ids, mask, rows = prompt_chunk(llama, [prompt], chat=False, first=True)
    by_hand = llama.decode(llama.encode(ids, attention_mask=mask), max_new_tokens=5)
    assert text.token_ids == by_hand.token_ids and solver.prompt_tokens == [len(rows[0])]
    assert text.output_tokens == 4 + len(text.token_ids[0])


def test_every_mode_decodes_with_the_same_settings(llama):
    latent = run_sequential(llama, AGENTS, QUESTION, max_new_tokens=5, chat=False)
    text = run_text_sequential(llama, AGENTS, QUESTION, max_new_tokens=5, chat=False)
    single = run_single(llama, AGENTS[-1], QUESTION, max_new_tokens=5, chat=False)
    assert latent.decoding.items() <= text.decoding.items() and latent.decoding == single.decoding
    assert (latent.mode, text.mode, single.mode) == ("latent", "text", "single")
    assert latent.output_tokens == len(latent.token_ids[0])  # only the last agent writes


def test_single_reads_only_the_final_prompt(llama):
    single = run_single(llama, AGENTS[-1], [QUESTION, "a longer question here"], max_new_tokens=5, chat=False)
    ids, mask, _ = prompt_chunk(llama, [AGENTS[-1].prompt(QUESTION)], chat=False, first=True)
    alone = llama.decode(llama.encode(ids, attention_mask=mask), max_new_tokens=5)
    assert single.token_ids[0] == alone.token_ids[0]


def test_text_hierarchical_experts_write_independently(llama):
    from latentspace.agents.baselines import run_text_hierarchical

    a, b = Agent("math", "Math view of {question}"), Agent("words", "Word view of {question}")
    changed = Agent("words", "A very different and much longer view of {question}")
    first = run_text_hierarchical(llama, [a, b], AGENTS[-1], QUESTION, max_new_tokens=4, agent_tokens=4, chat=False)
    second = run_text_hierarchical(llama, [a, changed], AGENTS[-1], QUESTION, max_new_tokens=4, agent_tokens=4,
                                   chat=False)
    assert first.turns[0].texts == second.turns[0].texts  # the math expert never saw the other one
    assert first.turns[2].prompt_tokens[0] > first.turns[0].prompt_tokens[0]  # the summariser read the notes
    assert first.mode == "text-hierarchical" and first.output_tokens == 4 + 4 + len(first.token_ids[0])
