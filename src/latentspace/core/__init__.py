"""The ground floor: one policy per module, imported by every layer above and importing none of them.

Held here so far (the older one-policy modules — errors, files, finite, jsonsafe, named, io, pages,
plots, stats — move in next, issue 37):

- `checked`: every saved file is read through one validating loader — structure, keys, types,
  finiteness — and a fault is one `LatentspaceError` naming the file and what is wrong.
- `step_checkpoint`: a resumable trainer's checkpoint written as one unit (a staging folder renamed
  into place) with its step, optimizer and random-generator states, resumed bit-identically.
"""
