"""Rays against a mesh's triangles: Embree's BVH, built once per mesh, asked directly.

trimesh's ray interface answers more (every hit, hit points) and rebuilds its own scene per
mesh; the stages only ask which triangle a ray meets first, or whether it meets any, often
only within a distance. A ray that may stop early is the cheap case for a BVH: the thin-wall
test asks for hits within twice the nozzle, 0.04 s for 200k rays instead of 0.11 s unbounded.
The stages (colour visibility, thin walls) and the renderer share it, so it sits at the
bottom level with ``fabricate.manifold``, importing no stage.

The scene is built through Embree's C API from the library the embreex wheel ships, the ray
loops are ours (``fabricate/_rays.c``). embreex's own mesh class copies the arrays in a
Python-level loop that holds the GIL: 0.1 s per 100k triangles, twice per job, on the thread
the colours and the proof share; here the arrays go in with two copies and the build releases
the GIL. Where that library cannot be found, embreex's classes build the same scene (same
library, same flags, same arrays): the answers are the same either way.
"""
from __future__ import annotations

import ctypes
from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np

from fabricate.compiled import array, library
from fabricate.errors import FabricateError

#: A ray's far end where no distance is given (what embreex uses too).
NO_LIMIT = 1e37
#: Embree's API constants (rtcore_common.h, rtcore_buffer.h, rtcore_geometry.h, rtcore_scene.h).
RTC_GEOMETRY_TYPE_TRIANGLE, RTC_BUFFER_TYPE_INDEX, RTC_BUFFER_TYPE_VERTEX = 0, 0, 1
RTC_FORMAT_UINT3, RTC_FORMAT_FLOAT3 = 0x5003, 0x9003
RTC_SCENE_FLAG_ROBUST = 1 << 2  # embreex's default: no ray slips between two triangles' shared edge
#: Vertex rows as Embree reads them: x, y, z and a pad, so the last one can be loaded as four floats.
VERTEX_FLOATS = 4


class RayScene:
    """One mesh's triangles in Embree (float32, relative to the mesh's low corner for precision)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        vertices = np.asarray(vertices, np.float64)
        self.origin = vertices.min(axis=0) if len(vertices) else np.zeros(3)
        relative = (vertices - self.origin).astype(np.float32)
        indices = np.ascontiguousarray(np.asarray(faces).astype(np.int32))
        embree = _embree()
        self._scene = _OwnScene(embree, relative, indices) if embree is not None else _EmbreexScene(relative, indices)

    def _rays(self, origins: np.ndarray, directions: np.ndarray):
        origins = np.ascontiguousarray((np.asarray(origins, np.float64) - self.origin), np.float32)
        directions = np.ascontiguousarray(np.broadcast_to(directions, origins.shape), np.float32)
        return origins, directions

    def first_hits(self, origins: np.ndarray, directions: np.ndarray, max_distance: Optional[float] = None):
        """(triangle index or -1, distance along the direction or inf) of each ray's first hit;
        with ``max_distance`` only hits that near count (in units of the direction's length)."""
        origins, directions = self._rays(origins, directions)
        limit = NO_LIMIT if max_distance is None else float(max_distance)
        face, tfar = self._scene.first_hits(origins, directions, limit)
        distance = np.where(face >= 0, tfar.astype(np.float64), np.inf)
        return face, distance

    def any_hit(self, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """(n,) bool: the ray meets some triangle (Embree's occlusion query: no nearest hit sought)."""
        origins, directions = self._rays(origins, directions)
        return self._scene.any_hit(origins, directions)


class _OwnScene:
    def __init__(self, embree: "_Embree", vertices: np.ndarray, indices: np.ndarray):
        self.embree, lib = embree, embree.lib
        self.handle = lib.rtcNewScene(embree.device)
        if not self.handle:
            raise FabricateError(f"Embree could not make a scene (error {lib.rtcGetDeviceError(embree.device)})")
        lib.rtcSetSceneFlags(self.handle, RTC_SCENE_FLAG_ROBUST)
        if len(indices):
            geometry = lib.rtcNewGeometry(embree.device, RTC_GEOMETRY_TYPE_TRIANGLE)
            rows = np.zeros((len(vertices), VERTEX_FLOATS), np.float32)
            rows[:, :3] = vertices
            for kind, format_, data in ((RTC_BUFFER_TYPE_VERTEX, RTC_FORMAT_FLOAT3, rows),
                                        (RTC_BUFFER_TYPE_INDEX, RTC_FORMAT_UINT3, indices)):
                target = lib.rtcSetNewGeometryBuffer(geometry, kind, 0, format_, data.strides[0], len(data))
                if not target:
                    lib.rtcReleaseGeometry(geometry)
                    raise FabricateError(f"Embree could not hold a mesh of {len(indices)} triangles "
                                         f"(error {lib.rtcGetDeviceError(embree.device)})")
                ctypes.memmove(target, data.ctypes.data, data.nbytes)
            lib.rtcCommitGeometry(geometry)
            lib.rtcAttachGeometry(self.handle, geometry)
            lib.rtcReleaseGeometry(geometry)  # the scene keeps it
        lib.rtcCommitScene(self.handle)  # the BVH build, on Embree's threads, the GIL released
        error = lib.rtcGetDeviceError(embree.device)
        if error:
            raise FabricateError(f"Embree could not build the scene of {len(indices)} triangles (error {error})")

    def first_hits(self, origins, directions, limit: float):
        face, tfar = np.empty(len(origins), np.int64), np.empty(len(origins), np.float32)
        self.embree.loops.rays_first_hits(self.handle, self.embree.intersect1, len(origins), origins, directions,
                                          limit, face, tfar)
        return face, tfar

    def any_hit(self, origins, directions) -> np.ndarray:
        hit = np.empty(len(origins), np.int8)
        self.embree.loops.rays_any_hits(self.handle, self.embree.occluded1, len(origins), origins, directions,
                                        NO_LIMIT, hit)
        return hit.astype(bool)

    def __del__(self):
        if getattr(self, "handle", None):
            self.embree.lib.rtcReleaseScene(self.handle)
            self.handle = None


class _EmbreexScene:
    """The same scene through embreex's classes, where its bundled library is not where we look."""

    def __init__(self, vertices: np.ndarray, indices: np.ndarray):
        from embreex import rtcore_scene
        from embreex.mesh_construction import TriangleMesh

        self.scene = rtcore_scene.EmbreeScene()
        TriangleMesh(scene=self.scene, vertices=vertices, indices=indices)

    def first_hits(self, origins, directions, limit: float):
        answer = self.scene.run(origins, directions, dists=np.full(len(origins), limit, np.float32), output=1)
        return np.asarray(answer["primID"], np.int64), np.asarray(answer["tfar"], np.float32)

    def any_hit(self, origins, directions) -> np.ndarray:
        return np.asarray(self.scene.run(origins, directions, query="OCCLUDED"), np.int64) >= 0


class _Embree:
    """Embree's C API in the library embreex ships, one device for the process, and our ray loops."""

    def __init__(self, path: Path):
        lib = self.lib = ctypes.CDLL(str(path))
        pointer, uint, size = ctypes.c_void_p, ctypes.c_uint, ctypes.c_size_t
        for name, restype, argtypes in (
                ("rtcNewDevice", pointer, [ctypes.c_char_p]),
                ("rtcGetDeviceError", ctypes.c_int, [pointer]),
                ("rtcNewScene", pointer, [pointer]),
                ("rtcSetSceneFlags", None, [pointer, ctypes.c_int]),
                ("rtcNewGeometry", pointer, [pointer, ctypes.c_int]),
                ("rtcSetNewGeometryBuffer", pointer, [pointer, ctypes.c_int, uint, ctypes.c_int, size, size]),
                ("rtcCommitGeometry", None, [pointer]),
                ("rtcAttachGeometry", uint, [pointer, pointer]),
                ("rtcReleaseGeometry", None, [pointer]),
                ("rtcCommitScene", None, [pointer]),
                ("rtcReleaseScene", None, [pointer])):
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
        self.device = lib.rtcNewDevice(None)
        if not self.device:
            raise FabricateError(f"Embree could not start (error {lib.rtcGetDeviceError(None)})")
        self.intersect1 = ctypes.cast(lib.rtcIntersect1, pointer).value
        self.occluded1 = ctypes.cast(lib.rtcOccluded1, pointer).value
        loops = self.loops = library("fabricate._rays")
        floats = array(np.float32)
        loops.rays_first_hits.argtypes = [pointer, pointer, ctypes.c_int64, floats, floats, ctypes.c_float,
                                          array(np.int64), floats]
        loops.rays_first_hits.restype = None
        loops.rays_any_hits.argtypes = [pointer, pointer, ctypes.c_int64, floats, floats, ctypes.c_float,
                                        array(np.int8)]
        loops.rays_any_hits.restype = None


def embree_library() -> Optional[Path]:
    """The Embree 4 library inside the embreex wheel (manylinux's embreex.libs, macOS's .dylibs), or None."""
    import embreex

    package = Path(embreex.__file__).resolve().parent
    for folder in (package.parent / "embreex.libs", package / ".dylibs", package):
        found = sorted(p for p in folder.glob("*embree4*") if p.suffix in (".so", ".dylib", ".dll") or ".so." in p.name)
        if found:
            return found[0]
    return None


@lru_cache(maxsize=None)
def _embree() -> Optional[_Embree]:
    path = embree_library()
    return _Embree(path) if path is not None else None
