"""Remember in latent space: KV-cache presses (`presses`) and a persistent latent memory store."""
