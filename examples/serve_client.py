"""Talk to `latentspace serve` with the official OpenAI client, then use the latent extensions.

    latentspace serve &                         # in another terminal (or: --model tiny)
    python examples/serve_client.py             # --url http://127.0.0.1:8000 --model smollm2-135m

With --self-serve the example starts a server for the model itself (in this process) first.
"""

import argparse
import socket
import threading
import time

from openai import OpenAI


def self_serve(model: str) -> str:
    """A server in a background thread of this process; returns its base URL."""
    import tempfile

    import uvicorn

    import latentspace as ls
    from latentspace.serve import ServeConfig, create_app

    app = create_app([ls.load(model)], ServeConfig(data_dir=tempfile.mkdtemp(prefix="serve-example-")))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--self-serve", action="store_true", help="start a server for --model here first")
    args = parser.parse_args()
    url = self_serve(args.model) if args.self_serve else args.url
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
