"""Stage 3: validate, repair and simplify meshes."""
from fabricate.mesh.coloured_mesh import ColouredMesh, distinct_colours
from fabricate.mesh.repair import repair_mesh
from fabricate.mesh.simplify import DEFAULT_TRIANGLE_BUDGET, simplify_mesh
from fabricate.mesh.validate import ValidationReport, validate_mesh

__all__ = ["ColouredMesh", "distinct_colours", "ValidationReport", "validate_mesh", "repair_mesh", "simplify_mesh",
           "DEFAULT_TRIANGLE_BUDGET"]
