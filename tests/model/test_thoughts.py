"""The one thought loop (`model.thoughts.think`) thinks exactly as the three loops it replaced.

Each test runs a verbatim copy of an old loop (from `train.evaluate`, `train.analysis` and
`reason.continuous` before issue 19) beside the new code on a tiny model and asks for the same
states, lens masses and traces, bit for bit. `test_the_comparison_sees_one_thought_more_or_less`
shows the comparison is not blind: one thought too many or too few changes what it compares.
"""

import pytest
import torch

from latentspace import LatentModel
from latentspace.model.markers import END_LATENT, LATENT, START_LATENT, latent_markers
from latentspace.model.text import left_pad
from latentspace.model.thoughts import think
from latentspace.model.tiny import make_tiny
from latentspace.reason import get_reasoner
from latentspace.reason.base import Rows
from latentspace.reason.continuous import Continuous
from latentspace.tasks import Item
from latentspace.tasks.graphs import node_depths
from latentspace.trace import Trace
from latentspace.train.recipes import get_recipe
from latentspace.train.studies.analysis import GROUPS, frontier_mass

QUESTIONS = ["What is two plus two?", "Is a cat a mammal? Say why.", "Hi"]


def marked_lm(family: str = "llama") -> LatentModel:
    """A tiny model whose tokenizer has the three markers (as the training recipes add them)."""
    model, tok = make_tiny(family, initializer_range=0.3)
    tok.add_special_tokens({"additional_special_tokens": [START_LATENT, END_LATENT, LATENT]})
    model.resize_token_embeddings(len(tok))
    return LatentModel(model, tok, f"tiny-marked-{family}")


@pytest.fixture(params=["llama", "gpt2"])
def marked(request):
    return marked_lm(request.param)


def assert_same_state(a, b):
    """Same slots, positions, logits and hidden state (the KV cache: see `same_continuation`)."""
    assert torch.equal(a.ids, b.ids) and torch.equal(a.attention_mask, b.attention_mask)
    assert torch.equal(a.next_position, b.next_position)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.hidden, b.hidden)
    assert torch.equal(a.latent_slots(), b.latent_slots())


def same_continuation(lm, a, b, n: int = 3) -> bool:
    return lm.decode(a, n).token_ids == lm.decode(b, n).token_ids


# -- train.evaluate ------------------------------------------------------------------------------

def old_evaluate_loop(lm, state, recipe, thoughts, latent_id, markers, project=None):
    """`train.evaluate.evaluate`'s loop before issue 19 (the start marker is in the prompt)."""
    for i in range(int(thoughts.max()) if len(thoughts) else 0):
        fed = state.hidden if recipe.feedback else lm.input_embeddings[latent_id]
        if project is not None and recipe.feedback:
            with torch.no_grad():
                fed = project(fed)
        state = lm.step(state, fed, rows=thoughts > i)  # rows with fewer thoughts sit this slot out
    if markers:
        state = lm.feed(state, torch.full((len(thoughts), 1), markers[1]))
    return state


def evaluate_states(lm, recipe_name, counts, with_markers, project=None):
    """(old, new) states after the thoughts of a left-padded batch, as `train.evaluate` builds it."""
    recipe = get_recipe(recipe_name)
    markers = latent_markers(lm.tokenizer) if with_markers else None
    latent_id = lm.tokenizer.convert_tokens_to_ids(LATENT)
    prompts = [lm.token_ids(q + "\n") + ([markers[0]] if markers else []) for q in QUESTIONS[:len(counts)]]
    ids, mask = left_pad(prompts, lm.tokenizer.pad_token_id)
    thoughts = torch.tensor(counts)
    start = lm.encode(ids, attention_mask=mask)
    old = old_evaluate_loop(lm, start.fork(), recipe, thoughts, latent_id, markers, project)

    def inputs(state, i):  # as `train.evaluate` calls it now
        return recipe.thought_inputs(lm, state, latent_id, project)

    new = think(lm, start.fork(), thoughts, inputs, markers=markers, opened=True)
    return old, new


@pytest.mark.parametrize("recipe_name", ["coconut", "pause"])  # fed-back states; the <|latent|> embedding
@pytest.mark.parametrize("with_markers", [True, False])
def test_evaluation_thinks_as_the_old_loop_with_rows_of_different_thought_counts(marked, recipe_name, with_markers):
    old, new = evaluate_states(marked, recipe_name, [3, 0, 2], with_markers)
    assert_same_state(old, new)
    assert new.latent_slots().sum(1).tolist() == [3, 0, 2]  # each row its own number of thought slots
    assert same_continuation(marked, old, new)


def test_evaluation_thinks_as_the_old_loop_through_a_projector(marked):
    torch.manual_seed(0)
    d = marked.hidden_size
    project = torch.nn.Sequential(torch.nn.Linear(d, d), torch.nn.GELU(), torch.nn.Linear(d, d))
    old, new = evaluate_states(marked, "coconut", [1, 2, 4], True, project)
    assert_same_state(old, new)
    assert same_continuation(marked, old, new)


def test_the_comparison_sees_one_thought_more_or_less(marked):
    """The equalities above are not blind: one thought more, or one row's thought less, shows."""
    old, _ = evaluate_states(marked, "coconut", [3, 0, 2], True)
    for counts in ([4, 0, 2], [3, 0, 1], [3, 1, 2]):
        _, other = evaluate_states(marked, "coconut", counts, True)
        assert not torch.equal(old.logits, other.logits)


# -- train.analysis ------------------------------------------------------------------------------

def old_frontier_mass(lm, items, thoughts, project=None):
    """`train.analysis.frontier_mass` before issue 19 (its checks of the items left out)."""
    markers = latent_markers(lm.tokenizer)
    vocab = lm.tokenizer.get_vocab()
    totals = [dict.fromkeys(GROUPS, 0.0) for _ in range(thoughts)]
    used = 0
    for item in items:
        meta = item.meta
        depths = node_depths(len(meta["names"]), meta["edge_list"], meta["root"])
        ids = torch.tensor([vocab[name] for name in meta["names"]])
        prompt = lm.tokenizer.encode(item.question + "\n", add_special_tokens=False) + ([markers[0]] if markers else [])
        state = lm.encode(torch.tensor([prompt]))
        for i in range(thoughts):
            with torch.no_grad():
                probs = torch.softmax(lm.head(state.hidden, normed=True).float(), -1)[0, ids].tolist()
            for p, d in zip(probs, depths):
                group = "unreachable" if d is None else "frontier" if d == i + 1 else "passed" if d <= i else "ahead"
                totals[i][group] += p
            fed = state.hidden
            if project is not None:
                with torch.no_grad():
                    fed = project(fed)
            state = lm.step(state, fed)
        used += 1
    per = [{k: v / max(1, used) for k, v in row.items()} for row in totals]
    return per, used


GRAPHS = [  # node names are single byte tokens of the tiny tokenizer
    Item("a b | b c | a d | d e | f c | ? a e", "yes",
         meta={"names": list("abcdef"), "edge_list": [(0, 1), (1, 2), (0, 3), (3, 4), (5, 2)], "root": 0}),
    Item("q r | r s | s t | u v | ? q t", "yes",
         meta={"names": list("qrstuv"), "edge_list": [(0, 1), (1, 2), (2, 3), (4, 5)], "root": 0}),
]


@pytest.mark.parametrize("with_markers", [True, False])
@pytest.mark.parametrize("projected", [False, True])
def test_frontier_mass_reads_the_same_lens_masses_as_the_old_loop(marked, llama, with_markers, projected):
    lm = marked if with_markers else llama
    project = None
    if projected:
        torch.manual_seed(1)
        project = torch.nn.Linear(lm.hidden_size, lm.hidden_size)
    per, used = old_frontier_mass(lm, GRAPHS, 4, project)
    result = frontier_mass(lm, GRAPHS, 4, project)
    assert result.items == used == 2
    assert result.per_thought == per  # the same floats, summed in the same order
    assert len({tuple(row.values()) for row in per}) == 4  # every thought reads differently: an offset would show


def test_frontier_mass_with_no_thoughts_reads_nothing(llama):
    assert frontier_mass(llama, GRAPHS, 0).per_thought == old_frontier_mass(llama, GRAPHS, 0)[0] == []


# -- reason.continuous ---------------------------------------------------------------------------

class OldContinuous(Continuous):
    """`reason.continuous.Continuous.think` before issue 19 (its refusal of codi/pause models left out)."""

    def think(self, lm, state, rows):
        markers = self.resolve_markers(lm)
        alignment = self.alignment if self.alignment != "auto" else ("none" if markers else "ridge")
        for trace in rows.traces:
            trace.meta.update(alignment=alignment, markers=markers is not None)
        thinking = rows.active.clone()[:, None].to(lm.device, torch.long)
        if markers:
            state = lm.feed(state, torch.full((state.batch_size, 1), markers[0], device=lm.device), mask=thinking)
        previous = None
        for _ in range(self.max_latent_steps):
            if not rows.any:
                break
            vectors = lm.align(state.hidden, alignment, state.logits, self.temperature)
            state = self.latent_step(lm, state, vectors, rows, previous)
            previous = vectors
        if markers:
            state = lm.feed(state, torch.full((state.batch_size, 1), markers[1], device=lm.device), mask=thinking)
        return state


def traces_of(traces):
    """What a trace says, less its wall time."""
    return [(t.text, t.steps, t.positions, t.stop_reason, t.meta) for t in traces]


@pytest.mark.parametrize("options", [
    {"max_latent_steps": 4},
    {"max_latent_steps": 4, "markers": "off"},  # aligned by ridge, no markers
    {"max_latent_steps": 5, "early_stop": -1.0},  # every row converges at its second thought (needs `previous`)
    {"max_latent_steps": 5, "stable_stop": 2, "stable_entropy": 100.0},
    {"max_latent_steps": 3, "alignment": "soft", "temperature": 0.5},
])
def test_the_continuous_strategy_thinks_as_the_old_loop(marked, options):
    new = get_reasoner("continuous", max_new_tokens=4, **options)
    old = OldContinuous(max_new_tokens=4, **options)
    assert type(new) is Continuous
    got, want = new.run_batch(marked, QUESTIONS), old.run_batch(marked, QUESTIONS)
    assert traces_of(got) == traces_of(want)
    if options.get("early_stop") == -1.0:
        assert [t.latent_steps for t in got] == [2, 2, 2] and all(t.stop_reason.startswith("converged") for t in got)


def test_a_thought_that_goes_bad_stops_its_row_as_before(marked):
    """A norm limit below every latent: each row stops at its first thought, the loop ends early."""
    options = {"max_latent_steps": 4, "max_norm_ratio": 1e-6, "min_norm_ratio": 0.0}
    got = get_reasoner("continuous", max_new_tokens=3, **options).run_batch(marked, QUESTIONS)
    want = OldContinuous(max_new_tokens=3, **options).run_batch(marked, QUESTIONS)
    assert traces_of(got) == traces_of(want)
    assert all(t.latent_steps == 0 and t.stop_reason.startswith("latent went bad") for t in got)


def test_rows_that_do_not_think_get_masked_slots_as_before(marked):
    """A batch of agents: only some rows think (the others get masked marker and thought slots)."""
    start = marked.encode([marked.chat(q) for q in QUESTIONS])
    states, traces = [], []
    for reasoner in (get_reasoner("continuous", max_latent_steps=3), OldContinuous(max_latent_steps=3)):
        rows = Rows([Trace(prompt=q) for q in QUESTIONS], torch.tensor([True, False, True]))
        states.append(reasoner.think(marked, start.fork(), rows))
        traces.append(rows)
    (new, old), (new_rows, old_rows) = states, traces
    assert_same_state(new, old)
    assert [t.steps for t in new_rows.traces] == [t.steps for t in old_rows.traces]
    assert new.latent_slots().sum(1).tolist() == [3, 0, 3]
    assert new.attention_mask.sum(1).tolist() == (start.attention_mask.sum(1) + torch.tensor([5, 0, 5])).tolist()
    assert same_continuation(marked, new, old)
