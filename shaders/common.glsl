// Shared helpers for vkquill compute shaders.
#ifndef VKQ_COMMON_GLSL
#define VKQ_COMMON_GLSL

// A flat index over a 2D grid of workgroups, so 1D launches can exceed 65535 groups.
uint vkq_flat_index(uint local_size)
{
    return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * local_size;
}

#endif
