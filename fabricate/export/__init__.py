"""Stage 6: write 3MF (with colours, metadata and slicer parts), STL and GLB files; slice with PrusaSlicer."""
from fabricate.export.formats import EXPORTERS, load_mesh_file, write_glb, write_mesh, write_stl
from fabricate.export.threemf import export_3mf, read_3mf, write_3mf

__all__ = ["EXPORTERS", "export_3mf", "write_3mf", "read_3mf", "write_stl", "write_glb", "write_mesh",
           "load_mesh_file"]
