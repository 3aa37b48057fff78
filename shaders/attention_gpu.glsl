// What the gpu-shaped attention kernels share: a workgroup of QUERIES invocations takes a tile
// of consecutive tokens of one head; the other side's rows come in blocks of BLOCK through
// shared memory, loaded by the whole workgroup, so that each is read from device memory once
// per tile rather than once per token. Tensors are read in place ([n][heads][HEAD_DIM]).
#ifndef VKQ_ATTENTION_GPU_GLSL
#define VKQ_ATTENTION_GPU_GLSL
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint HEAD_DIM = 8u;
const uint QUERIES = 64u;
const uint BLOCK = 16u; // rows a block: 2 x 16 x 128 floats fit in 16 KiB of shared memory

// The lowest of the workgroup's `first` values, through shared memory.
shared uint firsts[QUERIES];
uint workgroup_min(uint first)
{
    firsts[gl_LocalInvocationID.x] = first;
    barrier();
    uint lowest = first;
    for (uint i = 0u; i < QUERIES; i++)
        lowest = min(lowest, firsts[i]);
    barrier();
    return lowest;
}

#endif
