"""Studies of finished runs: reading run folders the training engine wrote, never training itself.

Tables over recipes and seeds beside the papers' numbers (`table`, which trains only the runs it
lacks, through the engine), the superposition analysis of thoughts (`analysis`, `inspect_run`),
evaluation on other items (`evaluate_run`), a run as an audit subject (`auditable`) and which
checkpoint a finished run's numbers came from (`best`). The engine (`latentspace.train`) never
imports this package; it imports the engine.
"""
