#version 450
// What both attention backwards need of every query besides q and dout, in the cpu panels'
// token order (attention_cpu.glsl): per (head, tile of 32 tokens), 8 texels of lse,
// 8 of delta = dout . out, 8 of the first key of the token's sequence (a float, exact below
// 2^24 tokens; the launcher refuses more), texel l holding tokens 4l..4l+3. A token past n gets
// lse 0, delta 0 and itself as first key, so it sees no real key. A workgroup per (statistic,
// tile, head), an invocation per texel.
layout(local_size_x = 8) in;

layout(std430, binding = 0) readonly buffer Dout { float dout[]; };
layout(std430, binding = 1) readonly buffer Out { float o[]; };
layout(std430, binding = 2) readonly buffer Lse { float lse[]; };
layout(std430, binding = 3) readonly buffer Starts { int starts[]; };
layout(std430, binding = 5) writeonly buffer Panels { vec4 panels[]; };

layout(push_constant) uniform Push {
    uint n;
    uint heads;
    uint head_dim;
} p;

float statistic(uint which, uint token, uint head)
{
    if (token >= p.n)
        return which == 2u ? float(token) : 0.0;
    uint row = token * p.heads + head;
    if (which == 0u)
        return lse[row];
    if (which == 2u)
        return float(min(uint(max(starts[token], 0)), token)); // clamped as in the forward
    float delta = 0.0;
    for (uint d = 0u; d < p.head_dim; d++)
        delta += dout[row * p.head_dim + d] * o[row * p.head_dim + d];
    return delta;
}

void main()
{
    uint lane = gl_LocalInvocationID.x, which = gl_WorkGroupID.x, tile = gl_WorkGroupID.y;
    uint head = gl_WorkGroupID.z;
    vec4 texel;
    for (uint j = 0u; j < 4u; j++)
        texel[j] = statistic(which, tile * 32u + 4u * lane + j, head);
    panels[((head * gl_NumWorkGroups.y + tile) * 3u + which) * 8u + lane] = texel;
}
