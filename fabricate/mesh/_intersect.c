/* Pairs of a mesh's triangles that cross each other: the loops of self_intersections.py.
 *
 * Why compiled: every mesh a job makes is proved free of self-intersections, and in numpy
 * the grid broad phase and the pair tests cost about half a second for 200k triangles, on
 * the thread that proves the mesh while the job's main thread places it. The algorithm,
 * its filters and their formulas are those documented in self_intersections.py; each
 * quantity is computed in the same order of operations as the numpy version was, so the
 * same pairs come out.
 *
 * Broad phase: every triangle's box enters each grid cell it overlaps; entries are grouped
 * by cell (counting sort by cell, or by a hash of the cell where the grid is much larger than
 * the entries, cells then compared within a bucket); a pair is looked at only in the cell holding the low corner of its boxes' overlap,
 * so each overlapping pair is seen once.
 */
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct {
    double a[3], b[3], c[3], normal[3], offset, margin, lo[3], hi[3];
} triangle_t;

static inline void sub(const double *p, const double *q, double *out)
{
    for (int k = 0; k < 3; k++) out[k] = p[k] - q[k];
}

static inline void cross(const double *p, const double *q, double *out)
{
    out[0] = p[1] * q[2] - p[2] * q[1];
    out[1] = p[2] * q[0] - p[0] * q[2];
    out[2] = p[0] * q[1] - p[1] * q[0];
}

static inline double dot(const double *p, const double *q)
{
    double s = 0.0;
    s += p[0] * q[0];
    s += p[1] * q[1];
    s += p[2] * q[2];
    return s;
}

static inline double norm(const double *p) { return sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]); }

/* Segment p0-p1 crosses triangle t's interior (Moller-Trumbore with the tolerances). */
static int segment_hits(const double *p0, const double *p1, const triangle_t *t, double eps, double tol)
{
    double d[3], h[3], s[3], q[3], e1[3], e2[3];
    sub(t->b, t->a, e1);
    sub(t->c, t->a, e2);
    sub(p1, p0, d);
    cross(d, e2, h);
    double det = dot(e1, h);
    if (!(fabs(det) > eps * (norm(e1) * norm(e2) * norm(d) + 1e-30))) return 0;
    double inv = 1.0 / det;
    sub(p0, t->a, s);
    double u = dot(s, h) * inv;
    cross(s, e1, q);
    double v = dot(d, q) * inv;
    double along = dot(e2, q) * inv;
    return u > tol && v > tol && u + v < 1 - tol && along > tol && along < 1 - tol;
}

/* One triangle wholly and clearly on one side of the other's plane. */
static int clearly_apart(const triangle_t *p, const triangle_t *q)
{
    const double *corners[3] = {p->a, p->b, p->c};
    int above = 0, below = 0;
    for (int k = 0; k < 3; k++) {
        double distance = dot(corners[k], q->normal) - q->offset;
        above += distance > q->margin;
        below += distance < -q->margin;
    }
    return above == 3 || below == 3;
}

static int cross_each_other(const triangle_t *p, const triangle_t *q, double eps, double tol)
{
    const triangle_t *pair[2] = {p, q};
    for (int side = 0; side < 2; side++) {
        const triangle_t *first = pair[side], *second = pair[1 - side];
        const double *corners[3] = {first->a, first->b, first->c};
        for (int k = 0; k < 3; k++)
            if (segment_hits(corners[k], corners[(k + 1) % 3], second, eps, tol)) return 1;
    }
    return 0;
}

/* A cell's bucket: the cell itself when the grid is small enough to count cells directly
 * (neighbouring cells stay near in memory), else a hash of it (shift < 64). */
/* The k-th smallest of values[0..n-1] (values are reordered). */
static double kth_smallest(double *values, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = values[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (values[i] < pivot) i++;
            while (values[j] > pivot) j--;
            if (i <= j) { double t = values[i]; values[i] = values[j]; values[j] = t; i++; j--; }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return values[k];
    }
    return values[k];
}

static inline uint64_t bucket_of(int64_t cell, int shift)
{
    return shift == 64 ? (uint64_t)cell : ((uint64_t)cell * 0x9E3779B97F4A7C15ULL) >> shift;
}

/* Writes up to `capacity` pairs (lower face first) and returns how many there are (more
 * than `capacity` means: call again with room for them all), or -1 if out of memory.
 * The grid: cells of `cell_extents` times the median box's largest extent, bounded below so
 * that no axis has more than 2^20 cells; the plane margin is relative to the mesh's size. */
int64_t si_find(const double *vertices, const int64_t *faces, int64_t m, double cell_extents, double plane_margin,
                double eps, double tol, int64_t *pairs, int64_t capacity)
{
    triangle_t *tri = malloc((size_t)(m > 0 ? m : 1) * sizeof(triangle_t));
    int32_t (*clo)[3] = malloc((size_t)(m > 0 ? m : 1) * sizeof *clo);
    int32_t (*chi)[3] = malloc((size_t)(m > 0 ? m : 1) * sizeof *chi);
    double *extent = malloc((size_t)(m > 0 ? m : 1) * sizeof(double));
    if (!tri || !clo || !chi || !extent) { free(tri); free(clo); free(chi); free(extent); return -1; }
    double origin[3] = {INFINITY, INFINITY, INFINITY}, top[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (int64_t f = 0; f < m; f++) {
        triangle_t *t = tri + f;
        for (int k = 0; k < 3; k++) {
            t->a[k] = vertices[3 * faces[3 * f] + k];
            t->b[k] = vertices[3 * faces[3 * f + 1] + k];
            t->c[k] = vertices[3 * faces[3 * f + 2] + k];
            t->lo[k] = fmin(fmin(t->a[k], t->b[k]), t->c[k]);
            t->hi[k] = fmax(fmax(t->a[k], t->b[k]), t->c[k]);
            origin[k] = fmin(origin[k], t->lo[k]);
            top[k] = fmax(top[k], t->hi[k]);
        }
        extent[f] = fmax(fmax(t->hi[0] - t->lo[0], t->hi[1] - t->lo[1]), t->hi[2] - t->lo[2]);
    }
    double size = fmax(fmax(top[0] - origin[0], top[1] - origin[1]), top[2] - origin[2]);
    double median = kth_smallest(extent, m, m / 2);
    if (m % 2 == 0) median = (median + kth_smallest(extent, m, m / 2 - 1)) / 2;
    free(extent);
    double cell = median * cell_extents;
    if (size > 0) {
        if (cell < size / 1048576.0) cell = size / 1048576.0;
        if (cell < 1e-300) cell = 1e-300;
    } else {
        cell = 1.0;
        size = 1.0;
    }
    int64_t dims[3] = {1, 1, 1}, entries = 0;
    for (int64_t f = 0; f < m; f++) {
        triangle_t *t = tri + f;
        double e1[3], e2[3];
        sub(t->b, t->a, e1);
        sub(t->c, t->a, e2);
        cross(e1, e2, t->normal);
        t->offset = dot(t->normal, t->a);
        t->margin = plane_margin * norm(e1) * norm(e2) * size;
        int64_t span = 1;
        for (int k = 0; k < 3; k++) {
            clo[f][k] = (int32_t)floor((t->lo[k] - origin[k]) / cell);
            chi[f][k] = (int32_t)floor((t->hi[k] - origin[k]) / cell);
            if (chi[f][k] + 1 > dims[k]) dims[k] = chi[f][k] + 1;
            span *= chi[f][k] - clo[f][k] + 1;
        }
        entries += span;
    }
    int shift = 64;
    uint64_t buckets = (uint64_t)dims[0] * (uint64_t)dims[1] * (uint64_t)dims[2];
    if (dims[0] > (1 << 21) || dims[1] > (1 << 21) || dims[2] > (1 << 21) || buckets > 8 * (uint64_t)entries + 1024) {
        for (buckets = 1, shift = 64; buckets < 2 * (uint64_t)entries; buckets <<= 1) shift--;
    }
    int64_t *start = calloc(buckets + 1, sizeof(int64_t));
    int64_t *entry_cell = malloc((size_t)(entries > 0 ? entries : 1) * sizeof(int64_t));
    int32_t *entry_face = malloc((size_t)(entries > 0 ? entries : 1) * sizeof(int32_t));
    uint8_t *entry_low = malloc((size_t)(entries > 0 ? entries : 1));
    int64_t found = -1;
    if (!start || !entry_cell || !entry_face || !entry_low) goto done;
    /* Counting sort of the entries by bucket: count, then place. */
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t f = 0; f < m; f++)
            for (int64_t x = clo[f][0]; x <= chi[f][0]; x++)
                for (int64_t y = clo[f][1]; y <= chi[f][1]; y++)
                    for (int64_t z = clo[f][2]; z <= chi[f][2]; z++) {
                        int64_t key = (x * dims[1] + y) * dims[2] + z;
                        uint64_t b = bucket_of(key, shift);
                        if (pass == 0) { start[b + 1]++; continue; }
                        int64_t at = start[b]++;
                        entry_cell[at] = key;
                        entry_face[at] = (int32_t)f;
                        entry_low[at] = (x == clo[f][0]) | (y == clo[f][1]) << 1 | (z == clo[f][2]) << 2;
                    }
        if (pass == 0)
            for (uint64_t b = 0; b < buckets; b++) start[b + 1] += start[b];
        else /* placing advanced each start to the next bucket's: shift back */
            for (uint64_t b = buckets; b > 0; b--) start[b] = start[b - 1];
    }
    start[0] = 0;
    found = 0;
    for (uint64_t b = 0; b < buckets; b++)
        for (int64_t p = start[b]; p < start[b + 1]; p++)
            for (int64_t q = p + 1; q < start[b + 1]; q++) {
                if (entry_cell[p] != entry_cell[q] || (entry_low[p] | entry_low[q]) != 7) continue;
                int64_t i = entry_face[p], j = entry_face[q];
                const triangle_t *ti = tri + i, *tj = tri + j;
                if (ti->lo[0] > tj->hi[0] || tj->lo[0] > ti->hi[0] || ti->lo[1] > tj->hi[1] || tj->lo[1] > ti->hi[1]
                    || ti->lo[2] > tj->hi[2] || tj->lo[2] > ti->hi[2])
                    continue;
                int shared = 0;
                for (int r = 0; r < 3; r++)
                    for (int s = 0; s < 3; s++) shared |= faces[3 * i + r] == faces[3 * j + s];
                if (shared) continue;
                if (i > j) { int64_t swap = i; i = j; j = swap; ti = tri + i; tj = tri + j; }
                if (clearly_apart(ti, tj) || clearly_apart(tj, ti)) continue;
                if (!cross_each_other(ti, tj, eps, tol)) continue;
                if (found < capacity) { pairs[2 * found] = i; pairs[2 * found + 1] = j; }
                found++;
            }
done:
    free(tri); free(clo); free(chi); free(start); free(entry_cell); free(entry_face); free(entry_low);
    return found;
}

static struct PyModuleDef intersect_module = {PyModuleDef_HEAD_INIT, "_intersect",
                                              "Compiled self-intersection test of fabricate's meshes.", -1, NULL};

PyMODINIT_FUNC PyInit__intersect(void) { return PyModule_Create(&intersect_module); }
