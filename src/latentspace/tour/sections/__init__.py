"""Tour sections, in the order the tour shows them. Add a capability's section here."""

from latentspace.tour.sections.agents import agents
from latentspace.tour.sections.audited_thoughts import audited_thoughts
from latentspace.tour.sections.bridge import bridge
from latentspace.tour.sections.generation import generation
from latentspace.tour.sections.imagined_states import imagined_states
from latentspace.tour.sections.latent_step import latent_step
from latentspace.tour.sections.layer_norms import layer_norms
from latentspace.tour.sections.lens_map import lens_map
from latentspace.tour.sections.memory import memory
from latentspace.tour.sections.next_token import next_token
from latentspace.tour.sections.reasoning import reasoning
from latentspace.tour.sections.searched_thoughts import searched_thoughts
from latentspace.tour.sections.serving import serving
from latentspace.tour.sections.steering import steering
from latentspace.tour.sections.trained_thoughts import trained_thoughts
from latentspace.tour.sections.world import world

SECTIONS = [generation, next_token, layer_norms, lens_map, latent_step, reasoning, trained_thoughts, audited_thoughts,
            searched_thoughts, steering, agents, memory, bridge, world, imagined_states, serving]
