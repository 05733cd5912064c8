"""Talk to `latentspace serve` with the official OpenAI client, then use the latent extensions.

    latentspace serve &                         # in another terminal (or: --model tiny)
    python examples/serve_client.py             # --url http://127.0.0.1:8000 --model smollm2-135m

With --self-serve the example starts a server for the model itself (in this process) first.
"""

import argparse
from contextlib import ExitStack

from openai import OpenAI


def self_serve(model: str, stack: ExitStack) -> str:
    """A server in a background thread of this process (until ``stack`` closes); returns its URL."""
    import tempfile

    import latentspace as ls
    from latentspace.serve import ServeConfig, create_app
    from latentspace.serve.background import in_background

    app = create_app([ls.load(model)], ServeConfig(data_dir=tempfile.mkdtemp(prefix="serve-example-")))
    return stack.enter_context(in_background(app))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--self-serve", action="store_true", help="start a server for --model here first")
    args = parser.parse_args()
    with ExitStack() as stack:
        run(self_serve(args.model, stack) if args.self_serve else args.url)


def run(url: str) -> None:
    client = OpenAI(base_url=f"{url}/v1", api_key="unused")
    model = client.models.list().data[0].id
    question = [{"role": "user", "content": "What is the capital of France?"}]

    # 1. plain OpenAI: nothing latentspace-specific
    out = client.chat.completions.create(model=model, messages=question, max_tokens=24)
    print("plain:", out.choices[0].message.content.strip(), f"({out.usage.completion_tokens} tokens)")

    # 2. streaming
    print("stream: ", end="")
    for chunk in client.chat.completions.create(model=model, messages=question, max_tokens=24, stream=True):
        if chunk.choices:
            print(chunk.choices[0].delta.content or "", end="", flush=True)
    print()

    # 3. think in latent space first, and get the trace back
    out = client.chat.completions.create(model=model, messages=question, max_tokens=24,
                                         extra_body={"latent": {"strategy": "soft", "steps": 4, "trace": True}})
    print("soft thinking:", out.choices[0].message.content.strip())
    for step in out.latent["trace"]["steps"]:
        if step["kind"] == "latent":
            print(f"  latent step: lens top-1 {step['top'][0][0]!r} p={step['top'][0][1]:.2f}, "
                  f"entropy {step['entropy']:.2f}")


if __name__ == "__main__":
    main()
