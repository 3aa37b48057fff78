/* Private to src/vk: the context's insides. */
#ifndef VKQ_VK_CONTEXT_H
#define VKQ_VK_CONTEXT_H

#include <stdio.h>

#include "vk/vk_internal.h"

struct vkq_block {
    VkDeviceMemory memory;
    VkBuffer buffer;
    uint64_t size;
    void *host;              /* mapped pointer on unified-memory devices, else NULL */
    uint32_t free_count;     /* free ranges, sorted by offset */
    uint32_t free_capacity;
    struct vkq_range { uint64_t offset, size; } *free;
    struct vkq_block *next;
};

typedef struct vkq_pipeline {
    const vkq_kernel_desc *kernel;
    uint32_t spec[VKQ_MAX_SPEC];
    uint32_t spec_count;
    VkPipeline pipeline;
} vkq_pipeline;

typedef struct vkq_profile_row {
    const char *kernel;
    uint64_t calls;
    double total_ms;
} vkq_profile_row;

struct vkq_ctx {
    vkq_device_info info;
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    int validate;
    uint32_t validation_messages;
    VkPhysicalDevice physical;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties memory_props;
    uint32_t memory_type;
    uint32_t staging_type;
    int unified;
    vkq_variant variant;
    int texel_rgba32f;

    VkCommandPool command_pool;
    VkFence fence;
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout pipeline_layout;
    VkPipelineCache pipeline_cache;
    char pipeline_cache_path[1024];
    vkq_pipeline *pipelines;
    uint32_t pipeline_count, pipeline_capacity;

    struct vkq_block *blocks;
    uint64_t in_use, peak;
    vkq_buf staging;

    int profile;
    float timestamp_period;
    vkq_profile_row *profile_rows;
    uint32_t profile_count, profile_capacity;
};

vkq_status vkq_memory_init(vkq_ctx *ctx);
void vkq_memory_destroy(vkq_ctx *ctx);
vkq_status vkq_pipelines_init(vkq_ctx *ctx);
void vkq_pipelines_destroy(vkq_ctx *ctx);
vkq_status vkq_pipeline_get(vkq_ctx *ctx, const vkq_dispatch *d, VkPipeline *out);
/* Submits one command buffer and waits for it; turns validation messages into an error. */
vkq_status vkq_submit_wait(vkq_ctx *ctx, VkCommandBuffer cmd);
vkq_status vkq_validation_status(vkq_ctx *ctx);
void vkq_profile_add(vkq_ctx *ctx, const char *kernel, double ms);

/* The device's driver properties (Vulkan 1.2 or VK_KHR_driver_properties), into *out; 0 where
 * it reports none. */
int vkq_driver_properties(VkPhysicalDevice pd, uint32_t api_version,
                          VkPhysicalDeviceDriverProperties *out);

#endif
