"""Stage 2: models that turn a cut-out photo into a sparse SDF, behind one interface."""
from dataclasses import asdict

from fabricate.errors import BadOption
from fabricate.reconstruct.base import RESOLUTIONS, PhotoView, Reconstruction, Reconstructor
from fabricate.reconstruct.classical import ClassicalReconstructor
from fabricate.reconstruct.sparse_volume import SparseSDF
from fabricate.schema import build_options

#: How to install what the learned model needs (the `neural` extra; torch is pinned to the CPU wheel).
NEURAL_INSTALL = "pip install -e '.[neural]' (torch==2.13.0, spconv, safetensors)"
#: Models by name. The learned model joins when torch and its shipped weights are present.
MODELS = {"classical": ClassicalReconstructor}
#: Models this install cannot run, with why and how to make it able to: still choices, so asking for one
#: says how to install it instead of "unknown model".
UNAVAILABLE = {}
try:
    from fabricate.reconstruct.neural import WEIGHTS, NeuralReconstructor, weights_available

    if weights_available():
        MODELS["neural"] = NeuralReconstructor
    else:
        UNAVAILABLE["neural"] = (f"the neural model needs torch and safetensors and its weights ({WEIGHTS.name}); "
                                 f"install them with {NEURAL_INSTALL}")
except ImportError as exc:  # torch not installed: the classical model only
    UNAVAILABLE["neural"] = f"the neural model needs {exc.name or 'torch'}, which is not installed: {NEURAL_INSTALL}"


def model_names() -> tuple:
    """Every model a job may name: those that run here, then those that need an optional install."""
    return tuple(MODELS) + tuple(name for name in UNAVAILABLE if name not in MODELS)


def get_reconstructor(name: str = "classical", **options) -> Reconstructor:
    """The reconstruction model called ``name``, configured with ``options``.

    Raises BadOption for an unknown model, or an option that model does not use.
    """
    if name in UNAVAILABLE:
        raise BadOption(UNAVAILABLE[name])
    try:
        model = MODELS[name]
    except KeyError:
        raise BadOption(f"unknown model {name!r}; available: {', '.join(MODELS)}") from None
    checked = build_options(model.options, options, f"the {name} model")
    return model(**asdict(checked))


__all__ = ["Reconstructor", "Reconstruction", "PhotoView", "SparseSDF", "ClassicalReconstructor", "get_reconstructor",
           "RESOLUTIONS", "MODELS", "UNAVAILABLE", "model_names"]
