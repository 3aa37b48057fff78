/* Compute pipelines: one descriptor-set layout and one pipeline layout for every kernel,
 * pipelines made on first use per (kernel, specialization constants), and a VkPipelineCache
 * kept on disk under $XDG_CACHE_HOME/vkquill (else ~/.cache/vkquill). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "vk/context.h"

static vkq_status create_layouts(vkq_ctx *ctx)
{
    VkDescriptorSetLayoutBinding b[VKQ_SLOTS];
    for (uint32_t i = 0; i < VKQ_SLOTS; i++) {
        b[i] = (VkDescriptorSetLayoutBinding){
            .binding = i,
            .descriptorType = i < VKQ_STORAGE_SLOTS ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                                                    : VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    }
    VkDescriptorSetLayoutCreateInfo sl = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                          .bindingCount = VKQ_SLOTS,
                                          .pBindings = b};
    VKQ_VK(vkCreateDescriptorSetLayout(ctx->device, &sl, NULL, &ctx->set_layout));
    VkPushConstantRange push = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
                                .size = VKQ_PUSH_BYTES};
    VkPipelineLayoutCreateInfo pl = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                     .setLayoutCount = 1,
                                     .pSetLayouts = &ctx->set_layout,
                                     .pushConstantRangeCount = 1,
                                     .pPushConstantRanges = &push};
    VKQ_VK(vkCreatePipelineLayout(ctx->device, &pl, NULL, &ctx->pipeline_layout));
    return VKQ_OK;
}

static void cache_path(vkq_ctx *ctx)
{
    const char *base = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    char dir[768];
    if (base && *base)
        snprintf(dir, sizeof dir, "%s/vkquill", base);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache/vkquill", home);
    else
        return;
    snprintf(ctx->pipeline_cache_path, sizeof ctx->pipeline_cache_path,
             "%s/pipelines-%04x-%04x.bin", dir, ctx->props.vendorID, ctx->props.deviceID);
}

/* The header every pipeline cache starts with; data for another device is ignored. */
static int cache_matches_device(const vkq_ctx *ctx, const unsigned char *data, size_t n)
{
    if (n < 16 + VK_UUID_SIZE)
        return 0;
    uint32_t h[4];
    memcpy(h, data, sizeof h);
    return h[0] >= 16 + VK_UUID_SIZE && h[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
           h[2] == ctx->props.vendorID && h[3] == ctx->props.deviceID &&
           memcmp(data + 16, ctx->props.pipelineCacheUUID, VK_UUID_SIZE) == 0;
}

static void *read_cache(const vkq_ctx *ctx, size_t *n)
{
    *n = 0;
    if (!ctx->pipeline_cache_path[0])
        return NULL;
    FILE *f = fopen(ctx->pipeline_cache_path, "rb");
    if (!f)
        return NULL;
    unsigned char *data = NULL;
    long len = 0;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (data = malloc((size_t)len)) && fread(data, 1, (size_t)len, f) == (size_t)len &&
        cache_matches_device(ctx, data, (size_t)len)) {
        *n = (size_t)len;
    } else {
        free(data);
        data = NULL;
    }
    fclose(f);
    return data;
}

vkq_status vkq_pipelines_init(vkq_ctx *ctx)
{
    VKQ_TRY(create_layouts(ctx));
    cache_path(ctx);
    size_t n;
    void *data = read_cache(ctx, &n);
    VkPipelineCacheCreateInfo info = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                      .initialDataSize = n,
                                      .pInitialData = data};
    VkResult r = vkCreatePipelineCache(ctx->device, &info, NULL, &ctx->pipeline_cache);
    if (r != VK_SUCCESS && data) {
        info.initialDataSize = 0;
        info.pInitialData = NULL;
        r = vkCreatePipelineCache(ctx->device, &info, NULL, &ctx->pipeline_cache);
    }
    free(data);
    if (r != VK_SUCCESS)
        return vkq_fail_vk("vkCreatePipelineCache", r);
    return VKQ_OK;
}

/* Best effort: a cache that cannot be written only costs compile time next run. */
static void save_cache(vkq_ctx *ctx)
{
    size_t n = 0;
    if (!ctx->pipeline_cache_path[0] || ctx->pipeline_count == 0 ||
        vkGetPipelineCacheData(ctx->device, ctx->pipeline_cache, &n, NULL) != VK_SUCCESS || n == 0)
        return;
    void *data = malloc(n);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", ctx->pipeline_cache_path, (long)getpid());
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", ctx->pipeline_cache_path);
    *strrchr(dir, '/') = '\0';
    if (data && vkGetPipelineCacheData(ctx->device, ctx->pipeline_cache, &n, data) == VK_SUCCESS &&
        vkq_make_dirs(dir) == VKQ_OK) {
        FILE *f = fopen(tmp, "wb");
        int ok = f && fwrite(data, 1, n, f) == n;
        if (f && fclose(f) != 0)
            ok = 0;
        if (!ok || rename(tmp, ctx->pipeline_cache_path) != 0)
            unlink(tmp);
    }
    free(data);
}

void vkq_pipelines_destroy(vkq_ctx *ctx)
{
    if (ctx->pipeline_cache) {
        save_cache(ctx);
        vkDestroyPipelineCache(ctx->device, ctx->pipeline_cache, NULL);
    }
    for (uint32_t i = 0; i < ctx->pipeline_count; i++)
        vkDestroyPipeline(ctx->device, ctx->pipelines[i].pipeline, NULL);
    free(ctx->pipelines);
    if (ctx->pipeline_layout)
        vkDestroyPipelineLayout(ctx->device, ctx->pipeline_layout, NULL);
    if (ctx->set_layout)
        vkDestroyDescriptorSetLayout(ctx->device, ctx->set_layout, NULL);
}

static vkq_status create_pipeline(vkq_ctx *ctx, const vkq_dispatch *d, VkPipeline *out)
{
    VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                   .codeSize = d->kernel->spirv_bytes,
                                   .pCode = d->kernel->spirv};
    VkShaderModule module;
    VKQ_VK(vkCreateShaderModule(ctx->device, &mi, NULL, &module));
    VkSpecializationMapEntry entries[VKQ_MAX_SPEC];
    for (uint32_t i = 0; i < d->spec_count; i++)
        entries[i] = (VkSpecializationMapEntry){i, i * 4, 4};
    VkSpecializationInfo spec = {.mapEntryCount = d->spec_count,
                                 .pMapEntries = entries,
                                 .dataSize = d->spec_count * 4,
                                 .pData = d->spec};
    VkComputePipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = module,
                  .pName = "main",
                  .pSpecializationInfo = d->spec_count ? &spec : NULL},
        .layout = ctx->pipeline_layout,
    };
    VkResult r = vkCreateComputePipelines(ctx->device, ctx->pipeline_cache, 1, &info, NULL, out);
    vkDestroyShaderModule(ctx->device, module, NULL);
    if (r != VK_SUCCESS)
        return vkq_fail(r == VK_ERROR_OUT_OF_DEVICE_MEMORY ? VKQ_ERR_OUT_OF_MEMORY : VKQ_ERR_VULKAN,
                        "vkCreateComputePipelines failed with %s for kernel %s; the driver "
                        "could not compile it (report it with 'vkquill selftest --json')",
                        vkq_vk_result_name(r), d->kernel->name);
    return VKQ_OK;
}

vkq_status vkq_pipeline_get(vkq_ctx *ctx, const vkq_dispatch *d, VkPipeline *out)
{
    for (uint32_t i = 0; i < ctx->pipeline_count; i++) {
        const vkq_pipeline *p = &ctx->pipelines[i];
        if (p->kernel == d->kernel && p->spec_count == d->spec_count &&
            memcmp(p->spec, d->spec, d->spec_count * sizeof *d->spec) == 0) {
            *out = p->pipeline;
            return VKQ_OK;
        }
    }
    if (ctx->pipeline_count == ctx->pipeline_capacity) {
        uint32_t cap = ctx->pipeline_capacity ? 2 * ctx->pipeline_capacity : 32;
        vkq_pipeline *grown = realloc(ctx->pipelines, cap * sizeof *grown);
        if (!grown)
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
        ctx->pipelines = grown;
        ctx->pipeline_capacity = cap;
    }
    VKQ_TRY(create_pipeline(ctx, d, out));
    vkq_pipeline *p = &ctx->pipelines[ctx->pipeline_count++];
    memset(p, 0, sizeof *p);
    p->kernel = d->kernel;
    p->spec_count = d->spec_count;
    memcpy(p->spec, d->spec, d->spec_count * sizeof *d->spec);
    p->pipeline = *out;
    return VKQ_OK;
}
