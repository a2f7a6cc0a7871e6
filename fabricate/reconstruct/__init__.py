"""Stage 2: models that turn a cut-out photo into a sparse SDF, behind one interface."""
from fabricate.errors import InputError
from fabricate.reconstruct.base import RESOLUTIONS, PhotoView, Reconstruction, Reconstructor
from fabricate.reconstruct.classical import ClassicalReconstructor
from fabricate.reconstruct.sparse_volume import SparseSDF

#: Models by name. The learned model joins when torch and its shipped weights are present.
MODELS = {"classical": ClassicalReconstructor}
try:
    from fabricate.reconstruct.neural import NeuralReconstructor, weights_available

    if weights_available():
        MODELS["neural"] = NeuralReconstructor
except ImportError:  # torch not installed: the classical model only
    pass


def get_reconstructor(name: str = "classical", **options) -> Reconstructor:
    """The reconstruction model called ``name``, configured with ``options``."""
    try:
        model = MODELS[name]
    except KeyError:
        raise InputError(f"unknown model {name!r}; available: {', '.join(MODELS)}") from None
    return model(**options)


__all__ = ["Reconstructor", "Reconstruction", "PhotoView", "SparseSDF", "ClassicalReconstructor", "get_reconstructor",
           "RESOLUTIONS", "MODELS"]
