/* Ray loops over an Embree scene: fabricate.rays asks these for many rays at once.
 *
 * Why compiled: Embree answers one ray per call (rtcIntersect1, rtcOccluded1), so the loop
 * over rays must be native. The scene itself is built through ctypes from Embree's C API
 * (fabricate/rays.py), and Embree's two query functions come in as plain pointers: this file
 * needs no Embree headers and links against nothing, so it builds wherever a C compiler does.
 *
 * Only the leading fields of Embree's ray and hit records are written or read here. Their
 * layout is Embree's public API (rtcore_ray.h, the same in Embree 3 and 4): a 48-byte ray
 * (org, tnear, dir, time, tfar, mask, id, flags), then the hit (Ng, u, v, primID, geomID,
 * then instance ids, as many as the library was built for). The record below leaves room
 * for 32 of those, where Embree's default build has one.
 */
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define INVALID_ID 0xFFFFFFFFu

typedef struct __attribute__((aligned(16))) {
    float org_x, org_y, org_z, tnear;
    float dir_x, dir_y, dir_z, time;
    float tfar;
    uint32_t mask, id, flags;
} ray_t;

typedef struct __attribute__((aligned(16))) {
    float ng_x, ng_y, ng_z, u, v;
    uint32_t prim_id, geom_id;
    uint32_t instance_ids[32];
} hit_t;

typedef struct __attribute__((aligned(16))) {
    ray_t ray;
    hit_t hit;
} ray_hit_t;

typedef void (*intersect1_t)(void *scene, ray_hit_t *ray_hit, void *arguments);
typedef void (*occluded1_t)(void *scene, ray_t *ray, void *arguments);

static void start_ray(ray_t *ray, const float *origin, const float *direction, float tfar)
{
    memset(ray, 0, sizeof(*ray));
    ray->org_x = origin[0]; ray->org_y = origin[1]; ray->org_z = origin[2];
    ray->dir_x = direction[0]; ray->dir_y = direction[1]; ray->dir_z = direction[2];
    ray->tnear = 0.0f;
    ray->tfar = tfar;
    ray->mask = 0xFFFFFFFFu;
}

/* Each ray's first hit within ``limit``: the triangle (-1 for none) and the distance along the
 * direction (tfar, left at ``limit`` where nothing is hit). */
void rays_first_hits(void *scene, void *intersect1, int64_t n, const float *origins, const float *directions,
                     float limit, int64_t *face, float *distance)
{
    intersect1_t intersect = (intersect1_t)intersect1;
    ray_hit_t record;
    for (int64_t i = 0; i < n; i++) {
        memset(&record, 0, sizeof(record));
        start_ray(&record.ray, origins + 3 * i, directions + 3 * i, limit);
        record.hit.prim_id = INVALID_ID;
        record.hit.geom_id = INVALID_ID;
        record.hit.instance_ids[0] = INVALID_ID;
        intersect(scene, &record, NULL);
        face[i] = record.hit.prim_id == INVALID_ID ? -1 : (int64_t)record.hit.prim_id;
        distance[i] = record.ray.tfar;
    }
}

/* Whether each ray meets any triangle (Embree sets an occluded ray's tfar to -inf). */
void rays_any_hits(void *scene, void *occluded1, int64_t n, const float *origins, const float *directions,
                   float no_limit, int8_t *hit)
{
    occluded1_t occluded = (occluded1_t)occluded1;
    ray_t ray;
    for (int64_t i = 0; i < n; i++) {
        start_ray(&ray, origins + 3 * i, directions + 3 * i, no_limit);
        occluded(scene, &ray, NULL);
        hit[i] = ray.tfar < 0.0f;
    }
}

static struct PyModuleDef rays_module = {PyModuleDef_HEAD_INIT, "_rays",
                                         "Compiled ray loops of fabricate over an Embree scene.", -1, NULL};

PyMODINIT_FUNC PyInit__rays(void) { return PyModule_Create(&rays_module); }
