/* Marching cubes over a sparse volume's 8^3 blocks, welded as it goes.
 *
 * Why compiled: at resolution 1024 the surface crosses about 12 million cells of the
 * narrow band; per-cell work in numpy (or one library call per chunk, then welding the
 * chunks by position) costs seconds, while the loop here costs a fraction of one.
 *
 * A vertex sits on each grid edge whose two samples lie on opposite sides (value < 0 is
 * inside). The edge belongs to the block holding its first sample, so every vertex is made
 * once and shared by the cells around it: the mesh comes out welded and closed. The cells
 * processed are those of `blocks`, whose 8 upper neighbours (+x, +y, +z and their
 * combinations) are read through the block index, unallocated ones by their side's fill.
 * Triangles come from the table built in cube_table.py; it is passed in, not baked here.
 *
 * Each function works on the blocks first..last-1 and writes only their rows, so ranges
 * run on several threads at once. Called through ctypes (which releases the GIL); the
 * module init exists only so that the import system finds the file.
 */
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define B 8
#define P (B + 1)

typedef struct {
    int64_t grid[3];        /* blocks along x, y, z */
    const int64_t *index;   /* block grid (x-major) -> allocated block, or -1 */
    const float *values;    /* allocated blocks, B^3 each, [x][y][z] */
    const int8_t *sign;     /* block grid: -1 inside, +1 outside (for unallocated blocks) */
    float fill;             /* magnitude of an unallocated block's samples */
    float gap;              /* samples nearer the level than this are moved to +-gap */
} volume_t;

static inline float off_level(float s, float gap)
{
    return fabsf(s) < gap ? (s < 0 ? -gap : gap) : s;
}

/* The block's samples and the first layer of its upper neighbours: v[x][y][z], 9^3. */
static void gather(const volume_t *vol, const int32_t *coord, float *v, int *limit)
{
    for (int d = 0; d < 8; d++) {
        int64_t b[3];
        int inside = 1;
        for (int a = 0; a < 3; a++) {
            b[a] = coord[a] + (d >> a & 1);
            if (b[a] >= vol->grid[a]) inside = 0;
        }
        int x0 = (d & 1) ? B : 0, x1 = (d & 1) ? P : B;
        int y0 = (d & 2) ? B : 0, y1 = (d & 2) ? P : B;
        int z0 = (d & 4) ? B : 0, z1 = (d & 4) ? P : B;
        int64_t flat = (b[0] * vol->grid[1] + b[1]) * vol->grid[2] + b[2];
        int64_t block = inside ? vol->index[flat] : -1;
        if (block < 0) {
            float side = inside && vol->sign[flat] < 0 ? -vol->fill : vol->fill;
            for (int x = x0; x < x1; x++)
                for (int y = y0; y < y1; y++)
                    for (int z = z0; z < z1; z++) v[(x * P + y) * P + z] = off_level(side, vol->gap);
            continue;
        }
        const float *src = vol->values + block * (B * B * B);
        for (int x = x0; x < x1; x++)
            for (int y = y0; y < y1; y++) {
                const float *column = src + ((x - x0) * B + (y - y0)) * B - z0;
                float *to = v + (x * P + y) * P;
                for (int z = z0; z < z1; z++) to[z] = off_level(column[z], vol->gap);
            }
    }
    /* Samples past the grid's last one do not exist: no cell or edge reaches them. */
    for (int a = 0; a < 3; a++) limit[a] = coord[a] + 1 < vol->grid[a] ? B : B - 1;
}

/* Set bits of a word (portable: no popcnt instruction is assumed of the CPU). */
static inline int bit_count(uint64_t x)
{
    x = x - (x >> 1 & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + (x >> 2 & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (int)(x * 0x0101010101010101ULL >> 56);
}

/* A block owns 3 * 512 edges, numbered ((x * 8 + y) * 8 + z) * 3 + axis (so vertex numbers run
 * in the order the cells use them, which keeps later sorts of the mesh's edges fast); `crossing[n]` holds
 * one bit per owned edge whose samples lie on opposite sides (WORDS 64-bit words), and
 * `before[n][w]` the set bits in the words before w, so an edge's vertex number is the
 * block's first vertex plus the set bits before its own. */
#define EDGES (3 * B * B * B)
#define WORDS (EDGES / 64)

/* Per block: the crossing edges it owns, their count, the triangles its cells make, and
 * each cell's corner pattern (patterns[n][x][y][z], 0 for cells past the grid's end). */
void nb_count(int64_t first, int64_t last, const int64_t *grid, const int64_t *index, const float *values, const int8_t *sign,
              float fill, float gap, const int32_t *blocks, const int8_t *table,
              int table_width, int64_t *vertex_count, int64_t *triangle_count, uint8_t *patterns,
              uint64_t *crossing, uint16_t *before)
{
    volume_t vol = {{grid[0], grid[1], grid[2]}, index, values, sign, fill, gap};
    float v[P * P * P];
    uint8_t in[P * P * P], quad[B * B * P];
    int limit[3], triangles_of[256];
    const int step[3] = {P * P, P, 1};
    for (int p = 0; p < 256; p++) {
        const int8_t *row = table + p * table_width;
        int t = 0;
        while (row[3 * t] >= 0) t++;
        triangles_of[p] = t;
    }
    for (int64_t n = first; n < last; n++) {
        uint8_t *pattern = patterns + n * B * B * B;
        uint64_t *bits = crossing + n * WORDS;
        gather(&vol, blocks + 3 * n, v, limit);
        int inside = 0;
        for (int i = 0; i < P * P * P; i++) inside += in[i] = v[i] < 0;
        vertex_count[n] = triangle_count[n] = 0;
        memset(pattern, 0, B * B * B);
        memset(bits, 0, WORDS * sizeof(uint64_t));
        memset(before + n * WORDS, 0, WORDS * sizeof(uint16_t));
        if (inside == 0 || inside == P * P * P) continue; /* no sign change anywhere */
        for (int x = 0; x < B; x++)
            for (int y = 0; y < B; y++)
                for (int z = 0; z < B; z++)
                    for (int axis = 0; axis < 3; axis++) {
                        int at[3] = {x, y, z};
                        int i = (x * P + y) * P + z;
                        if (at[axis] < limit[axis] && in[i] != in[i + step[axis]]) {
                            int e = ((x * B + y) * B + z) * 3 + axis;
                            bits[e >> 6] |= (uint64_t)1 << (e & 63);
                        }
                    }
        int64_t vertices = 0, triangles = 0;
        for (int w = 0; w < WORDS; w++) {
            before[n * WORDS + w] = (uint16_t)vertices;
            vertices += bit_count(bits[w]);
        }
        /* quad: the four corners of a cell's lower-z or upper-z face, as bits 0-3. */
        for (int x = 0; x < B; x++)
            for (int y = 0; y < B; y++)
                for (int z = 0; z < P; z++) {
                    int i = (x * P + y) * P + z;
                    quad[(x * B + y) * P + z] = in[i] | in[i + P * P] << 1 | in[i + P] << 2 | in[i + P * P + P] << 3;
                }
        for (int x = 0; x < limit[0]; x++)
            for (int y = 0; y < limit[1]; y++)
                for (int z = 0; z < limit[2]; z++) {
                    int q = (x * B + y) * P + z;
                    uint8_t c = quad[q] | quad[q + 1] << 4;
                    pattern[(x * B + y) * B + z] = c;
                    triangles += triangles_of[c];
                }
        vertex_count[n] = vertices;
        triangle_count[n] = triangles;
    }
}

/* Vertex positions (voxel units times `scale`), block by block in owned-edge order. */
void nb_vertices(int64_t first, int64_t last, const int64_t *grid, const int64_t *index, const float *values, const int8_t *sign,
                 float fill, float gap, const int32_t *blocks, const int64_t *vertex_start,
                 const int64_t *vertex_count, const uint64_t *crossing, double scale, double *vertices)
{
    volume_t vol = {{grid[0], grid[1], grid[2]}, index, values, sign, fill, gap};
    float v[P * P * P];
    int limit[3];
    const int step[3] = {P * P, P, 1};
    for (int64_t n = first; n < last; n++) {
        if (!vertex_count[n]) continue;
        gather(&vol, blocks + 3 * n, v, limit);
        double *out = vertices + 3 * vertex_start[n];
        double origin[3] = {blocks[3 * n] * (double)B, blocks[3 * n + 1] * (double)B, blocks[3 * n + 2] * (double)B};
        for (int w = 0; w < WORDS; w++)
            for (uint64_t bits = crossing[n * WORDS + w]; bits; bits &= bits - 1) {
                int e = w * 64 + __builtin_ctzll(bits);
                int axis = e % 3, cell = e / 3, at[3] = {cell >> 6 & 7, cell >> 3 & 7, cell & 7};
                int here = (at[0] * P + at[1]) * P + at[2];
                double a = v[here], b = v[here + step[axis]];
                for (int k = 0; k < 3; k++) out[k] = (origin[k] + at[k]) * scale;
                out[axis] = (origin[axis] + at[axis] + a / (a - b)) * scale;
                out += 3;
            }
    }
}

/* Triangles: for each cell, the table's edges mapped to the vertex numbers of the blocks
 * owning them. `neighbour[n][d]` is the row in `blocks` of block n's upper neighbour d
 * (bit 0 +x, bit 1 +y, bit 2 +z), or -1. Returns -1 if a crossing edge has no vertex
 * (the volume's surface leaves the blocks listed), else 0. */
int nb_faces(int64_t first, int64_t last, const int64_t *neighbour, const uint8_t *patterns, const int8_t *table,
             int table_width, const int8_t *edges, const int64_t *triangle_start, const int64_t *triangle_count,
             const int64_t *vertex_start, const uint64_t *crossing, const uint16_t *before, int64_t *faces)
{
    for (int64_t n = first; n < last; n++) {
        if (!triangle_count[n]) continue;
        const uint8_t *pattern = patterns + n * B * B * B;
        int64_t *out = faces + 3 * triangle_start[n];
        for (int x = 0; x < B; x++)
            for (int y = 0; y < B; y++)
                for (int z = 0; z < B; z++) {
                    const int8_t *row = table + pattern[(x * B + y) * B + z] * table_width;
                    for (; *row >= 0; row++) {
                        const int8_t *edge = edges + 4 * *row;
                        int at[3] = {x + edge[1], y + edge[2], z + edge[3]};
                        int d = (at[0] >> 3) | (at[1] >> 3) << 1 | (at[2] >> 3) << 2;
                        int64_t owner = d ? neighbour[8 * n + d] : n;
                        if (owner < 0) return -1;
                        int e = (((at[0] & 7) * B + (at[1] & 7)) * B + (at[2] & 7)) * 3 + edge[0];
                        uint64_t word = crossing[owner * WORDS + (e >> 6)];
                        if (!(word >> (e & 63) & 1)) return -1;
                        uint64_t lower = word & (((uint64_t)1 << (e & 63)) - 1);
                        *out++ = vertex_start[owner] + before[owner * WORDS + (e >> 6)] + bit_count(lower);
                    }
                }
    }
    return 0;
}

static struct PyModuleDef narrowband_module = {PyModuleDef_HEAD_INIT, "_narrowband",
                                               "Compiled marching cubes of fabricate's sparse volumes.", -1, NULL};

PyMODINIT_FUNC PyInit__narrowband(void) { return PyModule_Create(&narrowband_module); }
