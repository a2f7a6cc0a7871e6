"""Stage 2: models that turn a cut-out photo into a sparse SDF, behind one interface."""
from dataclasses import asdict

from fabricate.errors import BadOption
from fabricate.reconstruct.base import RESOLUTIONS, PhotoView, Reconstruction, Reconstructor
from fabricate.reconstruct.classical import ClassicalReconstructor
from fabricate.reconstruct.sparse_volume import SparseSDF
from fabricate.schema import build_options

#: Models by name. The learned model joins when torch and its shipped weights are present.
MODELS = {"classical": ClassicalReconstructor}
try:
    from fabricate.reconstruct.neural import NeuralReconstructor, weights_available

    if weights_available():
        MODELS["neural"] = NeuralReconstructor
except ImportError:  # torch not installed: the classical model only
    pass


def get_reconstructor(name: str = "classical", **options) -> Reconstructor:
    """The reconstruction model called ``name``, configured with ``options``.

    Raises BadOption for an unknown model, or an option that model does not use.
    """
    try:
        model = MODELS[name]
    except KeyError:
        raise BadOption(f"unknown model {name!r}; available: {', '.join(MODELS)}") from None
    checked = build_options(model.options, options, f"the {name} model")
    return model(**asdict(checked))


__all__ = ["Reconstructor", "Reconstruction", "PhotoView", "SparseSDF", "ClassicalReconstructor", "get_reconstructor",
           "RESOLUTIONS", "MODELS"]
