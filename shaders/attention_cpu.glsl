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
// into register arrays, so a loop whose counter indexes one is unrolled; weighted_rows keeps
// its HEAD_DIM accumulators a lane in shared memory and takes CHUNK of them at a time into
// registers, which keeps the unrolled code (and the pipeline's compile time) small. The kernel
// defines ACCUMULATORS, the sets of them it needs, and enables the subgroup shuffle and
// arithmetic and control-flow-attribute extensions before including this file.
#ifndef VKQ_ATTENTION_CPU_GLSL
#define VKQ_ATTENTION_CPU_GLSL

layout(local_size_x_id = 2) in;
layout(constant_id = 0) const uint HEAD_DIM = 8u;
layout(constant_id = 2) const uint WIDTH = 8u; // the subgroup: 8, or 16 for two problems
const uint CHUNK = 16u;
// A head of at most CHUNK dimensions keeps its accumulators in registers (the kernel's own
// arrays, indexed by constants) across the blocks, where a larger one keeps them in shared
// memory: lavapipe reaches shared memory one lane at a time. The panels hold zeros past
// HEAD_DIM up to PADDED_DIM: a multiple of 4 (one texel fetch a lane) in registers, of CHUNK in
// shared memory.
const bool IN_REGISTERS = HEAD_DIM <= CHUNK;
const uint PADDED_DIM = IN_REGISTERS ? (HEAD_DIM + 3u) / 4u * 4u
                                     : (HEAD_DIM + CHUNK - 1u) / CHUNK * CHUNK;
const uint TILE = 32u;
const uint LANES = 8u; // of one problem
const float MASKED = -3.4e38; // a score no key reaches; its probability is forced to 0

layout(binding = 6) uniform samplerBuffer panels;
shared vec4 accumulators[ACCUMULATORS * PADDED_DIM * WIDTH];

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

int accumulator_at(uint set, uint d)
{
    return int((set * PADDED_DIM + d) * WIDTH + gl_SubgroupInvocationID);
}

vec4 accumulator(uint set, uint d)
{
    return accumulators[accumulator_at(set, d)];
}

void clear_accumulators()
{
    for (uint i = gl_SubgroupInvocationID; i < ACCUMULATORS * PADDED_DIM * WIDTH; i += WIDTH)
        accumulators[i] = vec4(0.0);
}

// The texel of this lane in panel (head, tile) at d = 0; d adds 8 d.
int panel_texel(uint at, uint head, uint tiles, uint tile)
{
    return int(at + (head * tiles + tile) * PADDED_DIM * LANES + lane_id());
}

// acc[4 u + j] += own . other[4 u + j] over d, for the four tokens of this lane: own and
// other are panel_texel results in own_panels and other_panels. Four d steps an iteration, so that each accumulator comes
// into registers once for four fetches (a fetch clobbers every vector register).
void tile_products(samplerBuffer own_panels, int own, samplerBuffer other_panels, int other,
                   inout vec4 acc[TILE])
{
    for (uint d = 0u; d < PADDED_DIM; d += 4u) {
        vec4 a[4], b[4];
        [[unroll]] for (uint k = 0u; k < 4u; k++) {
            a[k] = texelFetch(own_panels, own + int(LANES * (d + k)));
            b[k] = texelFetch(other_panels, other + int(LANES * (d + k)));
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
// other_panels, w and acc are over this lane's tokens.
void weighted_chunk(samplerBuffer other_panels, int other, uint c, vec4 w[TILE], vec4 rescale,
                    inout vec4 acc[CHUNK])
{
    [[unroll]] for (uint d = 0u; d < CHUNK; d++)
        acc[d] *= rescale;
    [[unroll]] for (uint d = 0u; d < CHUNK; d += 4u) {
        if (c + d < PADDED_DIM) {
            vec4 x[4];
            [[unroll]] for (uint k = 0u; k < 4u; k++)
                x[k] = texelFetch(other_panels, other + int(LANES * (c + d + k)));
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

// weighted_chunk over every chunk of accumulator set `set` in shared memory.
void weighted_rows(samplerBuffer other_panels, int other, vec4 w[TILE], vec4 rescale, uint set)
{
    for (uint c = 0u; c < PADDED_DIM; c += CHUNK) {
        vec4 acc[CHUNK];
        [[unroll]] for (uint d = 0u; d < CHUNK; d++)
            acc[d] = accumulator(set, c + d);
        weighted_chunk(other_panels, other, c, w, rescale, acc);
        [[unroll]] for (uint d = 0u; d < CHUNK; d++)
            accumulators[accumulator_at(set, c + d)] = acc[d];
    }
}

// Whether key `key` is visible to the queries `query` whose sequences start at `first`.
bvec4 visible(uvec4 key, uvec4 query, uvec4 first)
{
    return bvec4(uvec4(greaterThanEqual(key, first)) & uvec4(lessThanEqual(key, query)));
}

#endif
