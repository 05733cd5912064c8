"""A bare CSFT loop on MNNS, outside the trainer: the yardstick the `cot2` recipe is measured against.

Issue 38: a plain teacher-forced loop reached 99.5-99.7% on held-out MNNS problems where the recipe
reached 86-95%. This script is that loop, written once and kept, so the two run on the same split
(`train.data.split_items` at the same seed, the same 1,312 test problems) and can be compared one
change at a time. Layout: ``<bos> d1 d2 d3 d4 =`` then three thought slots; the position before
each slot predicts the step's distribution over the 16 sign traces' partial sums (KL), the third
slot predicts the answer (one-hot). Training feeds the target mixtures (teacher forcing); testing
feeds the model's own softmax mixtures and reads the answer's argmax, at the last epoch.

    python benchmarks/mnns_reference_loop.py --seed 0 --epochs 600 --threads 1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from latentspace.core.stats import tally
from latentspace.tasks import get_task
from latentspace.tasks.mnns import VOCABULARY
from latentspace.train.data import split_items
from latentspace.train.profiles import MNNS_SPLIT
from latentspace.train.vocab import symbol_tokenizer

VOCAB = ["<bos>", *VOCABULARY]  # `###` is appended only with --marker (other runs keep their initial weights)
ID = {s: i for i, s in enumerate(VOCAB)}
THOUGHTS = 3


def add_marker() -> None:
    VOCAB.append("###")
    ID["###"] = len(VOCAB) - 1


def split_digits() -> None:
    """Tokens of their own for the question's digits (`D1`..`D9`), apart from the sums the steps and the
    answer write — CoT2's authors' vocabulary; ours shares one token per value."""
    for digit in range(10):
        VOCAB.append(f"D{digit}")
        ID[f"D{digit}"] = len(VOCAB) - 1


def digit_token(digit) -> int:
    return ID.get(f"D{digit}", ID[str(digit)])


def use_recipe_vocabulary() -> None:
    """The recipe's token ids: `train.vocab.symbol_tokenizer`'s layout (specials, markers, `###`, then
    the symbols in sorted order) — the same vocabulary size and the same rows of the embedding."""
    tok = symbol_tokenizer([], extra=VOCABULARY)
    VOCAB[:] = tok.convert_ids_to_tokens(list(range(len(tok))))
    ID.clear()
    ID.update({s: i for i, s in enumerate(VOCAB)})
    ID["<bos>"] = ID["<eos>"]  # never fed: --recipe-vocab goes with --no-bos


def tensors(items, bos: bool = True, marker: bool = False,
            eos: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(prompt ids, step targets [N, 4-6, V] — three trace distributions, with ``marker`` the one-hot
    ``###``, then the one-hot answer, with ``eos`` then the one-hot ``<eos>`` —, answers [N])."""
    prompts = torch.tensor([[ID["<bos>"]] * bos + [*(digit_token(d) for d in item.meta["digits"]), ID["="]]
                            for item in items])
    targets = torch.zeros(len(items), THOUGHTS + 1 + marker + eos, len(VOCAB))
    for n, item in enumerate(items):
        for trace in item.meta["traces"]:
            for t in range(THOUGHTS):
                targets[n, t, ID[trace[t]]] += 1 / len(item.meta["traces"])
        if marker:
            targets[n, THOUGHTS, ID["###"]] = 1.0
        targets[n, THOUGHTS + marker, ID[item.answer]] = 1.0
        if eos:
            targets[n, -1, ID["<eos>"]] = 1.0
    return prompts, targets, torch.tensor([ID[item.answer] for item in items])


def forward(model, prompts: torch.Tensor, slots: list[torch.Tensor]) -> torch.Tensor:
    """Logits at the prompt's last position and at each slot given so far (a slot: a distribution over tokens)."""
    table = model.get_input_embeddings().weight
    embeds = torch.cat([table[prompts], *[(s @ table)[:, None] for s in slots]], 1)
    return model(inputs_embeds=embeds).logits[:, prompts.shape[1] - 1:]


@torch.no_grad()
def correct(model, prompts: torch.Tensor, answers: torch.Tensor, marker: bool = False) -> torch.Tensor:
    model.eval()
    slots: list[torch.Tensor] = []
    for _ in range(THOUGHTS):  # each thought is the model's own softmax mixture of embeddings
        slots.append(torch.softmax(forward(model, prompts, slots)[:, -1], -1))
    if marker:  # the answer marker is a token, as the recipe's `### answer` layout has it
        slots.append(torch.nn.functional.one_hot(torch.full((len(prompts),), ID["###"]), len(VOCAB)).float())
    model.train()
    return forward(model, prompts, slots)[:, -1].argmax(-1) == answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=600)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--dropout", type=float, default=0.1, help="GPT-2's default 0.1 (the recipe's profiles: 0)")
    parser.add_argument("--no-bos", action="store_true", help="no <bos> before the digits (the recipe's layout)")
    parser.add_argument("--marker", action="store_true",
                        help="a `###` token between the last thought and the answer (the recipe's layout)")
    parser.add_argument("--eos", action="store_true", help="an `<eos>` target after the answer (the recipe's layout)")
    parser.add_argument("--recipe-vocab", action="store_true",
                        help="the recipe's vocabulary and token ids (needs --no-bos and --marker)")
    parser.add_argument("--cosine", action="store_true", help="decay the learning rate to 0 along a cosine")
    parser.add_argument("--split-digits", action="store_true",
                        help="the question's digits get tokens of their own, apart from the sums (the authors' vocabulary)")
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.recipe_vocab:
        if not (args.no_bos and args.marker):
            parser.error("--recipe-vocab needs --no-bos and --marker (the recipe's vocabulary has neither <bos> "
                         "nor a separate `###`)")
        use_recipe_vocabulary()
    elif args.marker:
        add_marker()
    if args.split_digits:
        if args.recipe_vocab:
            parser.error("--split-digits and --recipe-vocab exclude each other (the recipe's vocabulary shares them)")
        split_digits()
    if args.eos and not args.recipe_vocab:
        parser.error("--eos needs --recipe-vocab (the loop's own vocabulary has no <eos>)")
    torch.manual_seed(args.seed)
    items = get_task("mnns").generate(sum(MNNS_SPLIT.values()), seed=args.seed)
    train, _, test = split_items(items, MNNS_SPLIT["n_valid"], MNNS_SPLIT["n_test"], seed=args.seed)
    prompts, targets, _ = tensors(train, not args.no_bos, args.marker, args.eos)
    test_prompts, _, test_answers = tensors(test, not args.no_bos, args.marker, args.eos)
    config = GPT2Config(vocab_size=len(VOCAB), n_positions=16, n_embd=args.hidden, n_layer=2, n_head=2,
                        bos_token_id=ID["<bos>"], eos_token_id=ID["<bos>"], resid_pdrop=args.dropout,
                        embd_pdrop=args.dropout, attn_pdrop=args.dropout)
    model = GPT2LMHeadModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    started, curve = time.time(), []
    steps, step = args.epochs * -(-len(prompts) // args.batch), 0
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(prompts))
        for first in range(0, len(order), args.batch):
            rows = order[first:first + args.batch]
            logits = forward(model, prompts[rows], [targets[rows, t] for t in range(targets.shape[1] - 1)])
            target = targets[rows]
            loss = (torch.xlogy(target, target) - target * torch.log_softmax(logits, -1)).sum(-1).mean()
            optimizer.zero_grad()
            loss.backward()
            if args.cosine:  # a pure function of the step: the same at every step of a rerun
                for group in optimizer.param_groups:
                    group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / steps))
            optimizer.step()
            step += 1
        if epoch % 50 == 0 or epoch == args.epochs:
            right = correct(model, test_prompts, test_answers, args.marker)
            curve.append((epoch, round(100 * right.float().mean().item(), 2)))
            print(f"epoch {epoch}: test {curve[-1][1]}%  ({time.time() - started:.0f} s)", flush=True)
    result = {"seed": args.seed, "epochs": args.epochs, "threads": args.threads, "hidden": args.hidden, "lr": args.lr,
              "batch": args.batch, "dropout": args.dropout, "bos": not args.no_bos,
              "marker": args.marker, "eos": args.eos, "recipe_vocab": args.recipe_vocab, "cosine": args.cosine,
              "split_digits": args.split_digits, "n_train": len(train), "n_test": len(test),
              "test_accuracy": curve[-1][1],
              "curve": curve, "seconds": round(time.time() - started), "test_groups": tally(zip((i.meta["group"] for i in test), right.tolist()))}
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
