"""Stage 6: write 3MF (with colours and metadata), STL and GLB files; render previews."""
from fabricate.export.formats import load_mesh_file, write_glb, write_mesh, write_stl
from fabricate.export.threemf import read_3mf, write_3mf

__all__ = ["write_3mf", "read_3mf", "write_stl", "write_glb", "write_mesh", "load_mesh_file"]
