// What the cpu-shaped attention kernels share (lavapipe, where the workgroup is one subgroup and
// each subgroup one SIMD group). A problem (a tile of one head) takes 8 lanes; a subgroup of 16
// (512-bit vectors) takes two problems side by side, the same tile of two heads, which walk the
// same blocks in step. They read every operand from panels in RGBA32F
// texel buffers (attention_pack): per (head, tile of 32 tokens, d < PADDED_DIM), 8 texels, texel
// l holding tokens 4l..4l+3 of the tile at dimension d (binding 6 holds q, k and v, which the
// forward may leave for the backward; the backward reads dout and its statistics from binding
// 7). Lane l owns the four tokens of texel l of its own tile; a tile of the other side reaches
// every lane through subgroupShuffle from a constant lane, which lavapipe compiles to a few
// register moves, so that each texel fetched is used by 16 products (see shaders/matmul_cpu.comp
// for the same pattern).
//
// Two products make up every pass: tile_products (a 32 x 32 block of dot products over d, the
// accumulators indexed by the other tile's token) and weighted_rows (a sum over the other
// tile's tokens for every d, the accumulators indexed by d). lavapipe wants constant indices
// into the kernel's own arrays (it keeps them in registers, or spills them to the stack a
// vector at a time), so a loop whose counter indexes one is unrolled; an array indexed
// dynamically, or shared memory, it reaches one lane at a time. weighted_rows walks the
// dimensions CHUNK at a time in a loop that is not unrolled, which keeps the unrolled code and
// the pipeline's compile time small, and picks the chunk's accumulators out of the whole set
// with selects on the chunk (take_chunk, put_chunk). The kernel enables the subgroup shuffle
// and arithmetic and control-flow-attribute extensions before including this file.
#ifndef VKQ_ATTENTION_CPU_GLSL
#define VKQ_ATTENTION_CPU_GLSL

layout(local_size_x_id = 2) in;
layout(constant_id = 0) const uint HEAD_DIM = 8u;
layout(constant_id = 2) const uint WIDTH = 8u; // the subgroup: 8, or 16 for two problems
const uint CHUNK = 16u;
// The panels hold zeros past HEAD_DIM up to PADDED_DIM: a multiple of 4 (one texel fetch a
// lane) for a head of at most CHUNK dimensions, else of CHUNK.
const uint PADDED_DIM = HEAD_DIM <= CHUNK ? (HEAD_DIM + 3u) / 4u * 4u
                                          : (HEAD_DIM + CHUNK - 1u) / CHUNK * CHUNK;
const uint CHUNKS = (PADDED_DIM + CHUNK - 1u) / CHUNK;
const uint ACCUMULATED = CHUNKS * CHUNK; // accumulators a lane, a vec4 for each dimension
const uint TILE = 32u;
const uint LANES = 8u; // of one problem
const float MASKED = -3.4e38; // a score no key reaches; its probability is forced to 0

// The panels (read-only storage texel buffers, whose loads lavapipe inlines): q, k and v, and for
// the backward dout and the statistics. An image cannot be a function argument here (its format
// must match and a parameter takes none), so the functions below name theirs as QKV or GRAD.
layout(binding = 6, rgba32f) uniform readonly imageBuffer panels;
#ifdef VKQ_ATTENTION_BACKWARD
layout(binding = 7, rgba32f) uniform readonly imageBuffer grad_panels;
#endif
const uint QKV = 0u, GRAD = 1u;

vec4 panel_load(uint source, int at)
{
#ifdef VKQ_ATTENTION_BACKWARD
    if (source == GRAD)
        return imageLoad(grad_panels, at);
#endif
    return imageLoad(panels, at);
}

// This lane within its problem, and which of the subgroup's problems it works on.
uint lane_id() { return gl_SubgroupInvocationID % LANES; }
uint problem() { return gl_SubgroupInvocationID / LANES; }

// Lane u's value of the caller's problem, for a constant u: lavapipe turns a shuffle from a
// constant lane into a register move and one from a varying lane into a loop over the lanes, so
// the second problem takes both halves' values and keeps its own.
vec4 from_lane(vec4 v, uint u)
{
    if (WIDTH == LANES)
        return subgroupShuffle(v, u);
    vec4 first = subgroupShuffle(v, u), second = subgroupShuffle(v, u + LANES);
    return problem() == 0u ? first : second;
}

float from_lane(float v, uint u)
{
    if (WIDTH == LANES)
        return subgroupShuffle(v, u);
    float first = subgroupShuffle(v, u), second = subgroupShuffle(v, u + LANES);
    return problem() == 0u ? first : second;
}

// The texel of this lane in panel (head, tile) at d = 0; d adds 8 d.
int panel_texel(uint at, uint head, uint tiles, uint tile)
{
    return int(at + (head * tiles + tile) * PADDED_DIM * LANES + lane_id());
}

// acc[4 u + j] += own . other[4 u + j] over d, for the four tokens of this lane: own and
// other are panel_texel results in own_source and other_source. Four d steps an iteration, so
// that each accumulator comes into registers once for four fetches (they spill).
void tile_products(uint own_source, int own, uint other_source, int other,
                   inout vec4 acc[TILE])
{
    for (uint d = 0u; d < PADDED_DIM; d += 4u) {
        vec4 a[4], b[4];
        [[unroll]] for (uint k = 0u; k < 4u; k++) {
            a[k] = panel_load(own_source, own + int(LANES * (d + k)));
            b[k] = panel_load(other_source, other + int(LANES * (d + k)));
        }
        [[unroll]] for (uint u = 0u; u < LANES; u++) {
            vec4 bu[4];
            [[unroll]] for (uint k = 0u; k < 4u; k++)
                bu[k] = from_lane(b[k], u);
            [[unroll]] for (uint j = 0u; j < 4u; j++) {
                vec4 s = acc[4u * u + j];
                [[unroll]] for (uint k = 0u; k < 4u; k++)
                    s += a[k] * bu[k][j];
                acc[4u * u + j] = s;
            }
        }
    }
}

// acc[d] = acc[d] * rescale + sum over the other tile's tokens r of w[r] * other[r][c + d], for
// the CHUNK dimensions from c (those below PADDED_DIM); other is a panel_texel result in
// other_source, w and acc are over this lane's tokens.
void weighted_chunk(uint other_source, int other, uint c, vec4 w[TILE], vec4 rescale,
                    inout vec4 acc[CHUNK])
{
    [[unroll]] for (uint d = 0u; d < CHUNK; d++)
        acc[d] *= rescale;
    [[unroll]] for (uint d = 0u; d < CHUNK; d += 4u) {
        if (HEAD_DIM > CHUNK || d < PADDED_DIM) { // a larger head pads to whole chunks
            vec4 x[4];
            [[unroll]] for (uint k = 0u; k < 4u; k++)
                x[k] = panel_load(other_source, other + int(LANES * (c + d + k)));
            [[unroll]] for (uint k = 0u; k < 4u; k++) {
                vec4 s = acc[d + k];
                [[unroll]] for (uint u = 0u; u < LANES; u++) {
                    vec4 xu = from_lane(x[k], u);
                    [[unroll]] for (uint j = 0u; j < 4u; j++)
                        s += w[4u * u + j] * xu[j];
                }
                acc[d + k] = s;
            }
        }
    }
}

void zero_accumulators(out vec4 acc[ACCUMULATED])
{
    [[unroll]] for (uint d = 0u; d < ACCUMULATED; d++)
        acc[d] = vec4(0.0);
}

// chunk = acc[c .. c + CHUNK - 1], for c a multiple of CHUNK.
void take_chunk(vec4 acc[ACCUMULATED], uint c, out vec4 chunk[CHUNK])
{
    [[unroll]] for (uint d = 0u; d < CHUNK; d++)
        chunk[d] = acc[d];
    [[unroll]] for (uint from = CHUNK; from < ACCUMULATED; from += CHUNK)
        [[unroll]] for (uint d = 0u; d < CHUNK; d++)
            chunk[d] = mix(chunk[d], acc[from + d], bvec4(c == from));
}

// acc[c .. c + CHUNK - 1] = chunk, for c a multiple of CHUNK.
void put_chunk(inout vec4 acc[ACCUMULATED], uint c, vec4 chunk[CHUNK])
{
    [[unroll]] for (uint from = 0u; from < ACCUMULATED; from += CHUNK)
        [[unroll]] for (uint d = 0u; d < CHUNK; d++)
            acc[from + d] = mix(acc[from + d], chunk[d], bvec4(c == from));
}

// weighted_chunk on the chunk of acc from c.
void weighted_chunk_of(uint other_source, int other, uint c, vec4 w[TILE],
                       vec4 rescale, inout vec4 acc[ACCUMULATED])
{
    vec4 chunk[CHUNK];
    take_chunk(acc, c, chunk);
    weighted_chunk(other_source, other, c, w, rescale, chunk);
    put_chunk(acc, c, chunk);
}

// weighted_chunk over every chunk of acc; a single chunk outside a loop, where its selects fold.
void weighted_rows(uint other_source, int other, vec4 w[TILE], vec4 rescale,
                   inout vec4 acc[ACCUMULATED])
{
    if (CHUNKS == 1u)
        weighted_chunk_of(other_source, other, 0u, w, rescale, acc);
    else
        for (uint c = 0u; c < PADDED_DIM; c += CHUNK)
            weighted_chunk_of(other_source, other, c, w, rescale, acc);
}

// Whether key `key` is visible to the queries `query` whose sequences start at `first`.
bvec4 visible(uvec4 key, uvec4 query, uvec4 first)
{
    return bvec4(uvec4(greaterThanEqual(key, first)) & uvec4(lessThanEqual(key, query)));
}

#endif
