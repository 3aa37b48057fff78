/* The recorder: many dispatches in one command buffer, with a barrier only where a dispatch
 * touches memory that an earlier one since the last barrier wrote (or reads what it wrote). */
#include <stdlib.h>
#include <string.h>

#include "vk/context.h"

enum { SETS_PER_POOL = 256, MAX_TIMED = 4096 };

typedef struct range {
    const vkq_block *block;
    uint64_t begin, end;
} range;

typedef struct range_list {
    range *items;
    uint32_t count, capacity;
} range_list;

struct vkq_rec {
    vkq_ctx *ctx;
    VkCommandBuffer cmd;
    int state; /* 0 empty, 1 recording, 2 ready to submit */
    VkDescriptorPool *pools;
    uint32_t pool_count, pool_used, sets_in_pool;
    VkBufferView *views;
    uint32_t view_count, view_capacity;
    struct scratch {
        vkq_buf buf;
        int in_use;
    } *scratch;
    uint32_t scratch_count, scratch_capacity;
    range_list pending_reads, pending_writes;
    uint32_t dispatches;
    VkQueryPool queries;
    const char **timed;
    uint32_t timed_count;
};

static int grow(void **items, uint32_t *capacity, uint32_t need, size_t item)
{
    if (need <= *capacity)
        return 1;
    uint32_t cap = *capacity ? *capacity : 16;
    while (cap < need)
        cap *= 2;
    void *grown = realloc(*items, cap * item);
    if (!grown)
        return 0;
    *items = grown;
    *capacity = cap;
    return 1;
}

#define GROW(arr, cap, need) grow((void **)&(arr), &(cap), (need), sizeof *(arr))

vkq_ctx *vkq_rec_ctx(vkq_rec *rec) { return rec->ctx; }
uint32_t vkq_rec_dispatch_count(const vkq_rec *rec) { return rec->dispatches; }

vkq_status vkq_submit_wait(vkq_ctx *ctx, VkCommandBuffer cmd)
{
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                       .commandBufferCount = 1,
                       .pCommandBuffers = &cmd};
    VKQ_VK(vkResetFences(ctx->device, 1, &ctx->fence));
    VKQ_VK(vkQueueSubmit(ctx->queue, 1, &si, ctx->fence));
    VKQ_VK(vkWaitForFences(ctx->device, 1, &ctx->fence, VK_TRUE, UINT64_MAX));
    return vkq_validation_status(ctx);
}

vkq_status vkq_rec_create(vkq_ctx *ctx, vkq_rec **out)
{
    *out = NULL;
    vkq_rec *rec = calloc(1, sizeof *rec);
    if (!rec)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    rec->ctx = ctx;
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = ctx->command_pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    VkResult r = vkAllocateCommandBuffers(ctx->device, &ai, &rec->cmd);
    uint32_t ts_bits = 0;
    if (r == VK_SUCCESS && ctx->profile) {
        uint32_t n = 0;
        VkQueueFamilyProperties q[16];
        vkGetPhysicalDeviceQueueFamilyProperties(ctx->physical, &n, NULL);
        n = n > 16 ? 16 : n;
        vkGetPhysicalDeviceQueueFamilyProperties(ctx->physical, &n, q);
        ts_bits = q[ctx->queue_family].timestampValidBits;
    }
    if (r == VK_SUCCESS && ts_bits) {
        VkQueryPoolCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                    .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                    .queryCount = 2 * MAX_TIMED};
        r = vkCreateQueryPool(ctx->device, &qi, NULL, &rec->queries);
        rec->timed = calloc(MAX_TIMED, sizeof *rec->timed);
    }
    if (r != VK_SUCCESS) {
        vkq_rec_destroy(rec);
        return vkq_fail_vk("vkAllocateCommandBuffers", r);
    }
    *out = rec;
    return VKQ_OK;
}

static void release_resources(vkq_rec *rec)
{
    vkq_ctx *ctx = rec->ctx;
    for (uint32_t i = 0; i < rec->view_count; i++)
        vkDestroyBufferView(ctx->device, rec->views[i], NULL);
    rec->view_count = 0;
    for (uint32_t i = 0; i < rec->scratch_count; i++)
        vkq_buf_free(ctx, &rec->scratch[i].buf);
    rec->scratch_count = 0;
    for (uint32_t i = 0; i < rec->pool_count; i++)
        vkResetDescriptorPool(ctx->device, rec->pools[i], 0);
    rec->pool_used = 0;
    rec->sets_in_pool = 0;
    rec->pending_reads.count = rec->pending_writes.count = 0;
    rec->dispatches = 0;
    rec->timed_count = 0;
}

void vkq_rec_destroy(vkq_rec *rec)
{
    if (!rec)
        return;
    vkq_ctx *ctx = rec->ctx;
    vkDeviceWaitIdle(ctx->device);
    release_resources(rec);
    for (uint32_t i = 0; i < rec->pool_count; i++)
        vkDestroyDescriptorPool(ctx->device, rec->pools[i], NULL);
    if (rec->queries)
        vkDestroyQueryPool(ctx->device, rec->queries, NULL);
    if (rec->cmd)
        vkFreeCommandBuffers(ctx->device, ctx->command_pool, 1, &rec->cmd);
    free(rec->pools);
    free(rec->views);
    free(rec->scratch);
    free(rec->pending_reads.items);
    free(rec->pending_writes.items);
    free(rec->timed);
    free(rec);
}

static void full_barrier(vkq_rec *rec, VkPipelineStageFlags dst_stage, VkAccessFlags dst_access)
{
    VkMemoryBarrier b = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                         .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                         .dstAccessMask = dst_access};
    vkCmdPipelineBarrier(rec->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, dst_stage, 0, 1, &b, 0,
                         NULL, 0, NULL);
    rec->pending_reads.count = rec->pending_writes.count = 0;
}

vkq_status vkq_rec_begin(vkq_rec *rec)
{
    vkq_ctx *ctx = rec->ctx;
    release_resources(rec);
    VKQ_VK(vkResetCommandBuffer(rec->cmd, 0));
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    VKQ_VK(vkBeginCommandBuffer(rec->cmd, &bi));
    if (rec->queries)
        vkCmdResetQueryPool(rec->cmd, rec->queries, 0, 2 * MAX_TIMED);
    /* Writes of an earlier submission become visible to this one. */
    full_barrier(rec, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                 VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    rec->state = 1;
    (void)ctx;
    return VKQ_OK;
}

vkq_status vkq_rec_end(vkq_rec *rec)
{
    if (rec->state != 1)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_rec_end without vkq_rec_begin");
    full_barrier(rec, VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                 VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT);
    VKQ_VK(vkEndCommandBuffer(rec->cmd));
    rec->state = 2;
    return VKQ_OK;
}

static void collect_profile(vkq_rec *rec)
{
    uint32_t n = rec->timed_count;
    if (!rec->queries || n == 0)
        return;
    uint64_t *ts = malloc(2 * n * sizeof *ts);
    if (ts && vkGetQueryPoolResults(rec->ctx->device, rec->queries, 0, 2 * n, 2 * n * sizeof *ts,
                                    ts, sizeof *ts,
                                    VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) ==
                  VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++)
            vkq_profile_add(rec->ctx, rec->timed[i],
                            (double)(ts[2 * i + 1] - ts[2 * i]) * rec->ctx->timestamp_period * 1e-6);
    free(ts);
}

vkq_status vkq_rec_submit(vkq_rec *rec)
{
    if (rec->state != 2)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_rec_submit before vkq_rec_end");
    VKQ_TRY(vkq_submit_wait(rec->ctx, rec->cmd));
    collect_profile(rec);
    return VKQ_OK;
}

/* Released scratch is handed out again (smallest that fits); the hazard tracking puts a barrier
 * between its last readers and its next writer. */
vkq_status vkq_rec_scratch(vkq_rec *rec, uint64_t bytes, vkq_buf *out)
{
    struct scratch *best = NULL;
    for (uint32_t i = 0; i < rec->scratch_count; i++) {
        struct scratch *s = &rec->scratch[i];
        if (!s->in_use && s->buf.size >= bytes && (!best || s->buf.size < best->buf.size))
            best = s;
    }
    if (!best) {
        if (!GROW(rec->scratch, rec->scratch_capacity, rec->scratch_count + 1))
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
        best = &rec->scratch[rec->scratch_count];
        VKQ_TRY(vkq_buf_alloc(rec->ctx, bytes, &best->buf));
        rec->scratch_count++;
    }
    best->in_use = 1;
    *out = vkq_buf_slice(best->buf, 0, bytes);
    return VKQ_OK;
}

void vkq_rec_scratch_release(vkq_rec *rec, vkq_buf buf)
{
    for (uint32_t i = 0; i < rec->scratch_count; i++)
        if (rec->scratch[i].buf.block == buf.block && rec->scratch[i].buf.offset == buf.offset)
            rec->scratch[i].in_use = 0;
}

static vkq_status allocate_set(vkq_rec *rec, VkDescriptorSet *set)
{
    vkq_ctx *ctx = rec->ctx;
    if (rec->pool_used == 0 || rec->sets_in_pool == SETS_PER_POOL) {
        if (rec->pool_used == rec->pool_count) {
            VkDescriptorPoolSize sizes[2] = {
                {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, SETS_PER_POOL * VKQ_STORAGE_SLOTS},
                {VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER, SETS_PER_POOL * VKQ_TEXEL_SLOTS}};
            VkDescriptorPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                             .maxSets = SETS_PER_POOL,
                                             .poolSizeCount = 2,
                                             .pPoolSizes = sizes};
            uint32_t cap = rec->pool_count;
            if (!GROW(rec->pools, cap, rec->pool_count + 1))
                return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
            VKQ_VK(vkCreateDescriptorPool(ctx->device, &pi, NULL, &rec->pools[rec->pool_count]));
            rec->pool_count++;
        }
        rec->pool_used++;
        rec->sets_in_pool = 0;
    }
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = rec->pools[rec->pool_used - 1],
                                      .descriptorSetCount = 1,
                                      .pSetLayouts = &ctx->set_layout};
    VKQ_VK(vkAllocateDescriptorSets(ctx->device, &ai, set));
    rec->sets_in_pool++;
    return VKQ_OK;
}

static vkq_status texel_view(vkq_rec *rec, vkq_buf buf, VkFormat format, VkBufferView *view)
{
    vkq_ctx *ctx = rec->ctx;
    uint64_t texels = buf.size / 16;
    if (buf.size % 16 || buf.offset % ctx->props.limits.minTexelBufferOffsetAlignment)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "a texel-buffer binding must be whole 16-byte texels at an aligned offset");
    if (texels > ctx->info.max_texel_buffer_elements)
        return vkq_fail(VKQ_ERR_UNSUPPORTED,
                        "%llu texels exceed this device's texel-buffer limit of %u; use the gpu "
                        "kernel variant (VKQ_VARIANT=gpu)",
                        (unsigned long long)texels, ctx->info.max_texel_buffer_elements);
    if (!GROW(rec->views, rec->view_capacity, rec->view_count + 1))
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    VkBufferViewCreateInfo vi = {.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
                                 .buffer = buf.block->buffer,
                                 .format = format,
                                 .offset = buf.offset,
                                 .range = buf.size};
    VKQ_VK(vkCreateBufferView(ctx->device, &vi, NULL, view));
    rec->views[rec->view_count++] = *view;
    return VKQ_OK;
}

static vkq_status write_descriptors(vkq_rec *rec, const vkq_dispatch *d, VkDescriptorSet set)
{
    VkWriteDescriptorSet w[VKQ_SLOTS];
    VkDescriptorBufferInfo infos[VKQ_SLOTS];
    VkBufferView views[VKQ_SLOTS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < VKQ_SLOTS; i++) {
        const vkq_binding *b = &d->slot[i];
        if (b->access == VKQ_UNUSED)
            continue;
        if (!b->buf.block || b->buf.size == 0)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "kernel %s: binding %u has no buffer",
                            d->kernel->name, i);
        w[n] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                      .dstSet = set,
                                      .dstBinding = i,
                                      .descriptorCount = 1};
        if (i < VKQ_STORAGE_SLOTS && b->buf.size > rec->ctx->info.max_storage_buffer_range)
            return vkq_fail(VKQ_ERR_UNSUPPORTED,
                            "kernel %s: binding %u covers %llu bytes, more than this device's "
                            "limit of %llu for one storage buffer",
                            d->kernel->name, i, (unsigned long long)b->buf.size,
                            (unsigned long long)rec->ctx->info.max_storage_buffer_range);
        if (i < VKQ_STORAGE_SLOTS) {
            infos[i] = (VkDescriptorBufferInfo){b->buf.block->buffer, b->buf.offset, b->buf.size};
            w[n].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            w[n].pBufferInfo = &infos[i];
        } else {
            VKQ_TRY(texel_view(rec, b->buf,
                               b->access == VKQ_READ_WORDS ? VK_FORMAT_R32G32B32A32_UINT
                                                           : VK_FORMAT_R32G32B32A32_SFLOAT,
                               &views[i]));
            w[n].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER;
            w[n].pTexelBufferView = &views[i];
        }
        n++;
    }
    vkUpdateDescriptorSets(rec->ctx->device, n, w, 0, NULL);
    return VKQ_OK;
}

static int overlaps(const range_list *l, range r)
{
    for (uint32_t i = 0; i < l->count; i++)
        if (l->items[i].block == r.block && l->items[i].begin < r.end && r.begin < l->items[i].end)
            return 1;
    return 0;
}

static vkq_status track_hazards(vkq_rec *rec, const vkq_dispatch *d)
{
    int conflict = 0;
    for (uint32_t i = 0; i < VKQ_SLOTS && !conflict; i++) {
        const vkq_binding *b = &d->slot[i];
        range r = {b->buf.block, b->buf.offset, b->buf.offset + b->buf.size};
        if (b->access == VKQ_READ || b->access == VKQ_READ_WRITE || b->access == VKQ_READ_WORDS)
            conflict |= overlaps(&rec->pending_writes, r);
        if (b->access == VKQ_WRITE || b->access == VKQ_READ_WRITE)
            conflict |= overlaps(&rec->pending_writes, r) || overlaps(&rec->pending_reads, r);
    }
    if (conflict)
        full_barrier(rec, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                     VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    for (uint32_t i = 0; i < VKQ_SLOTS; i++) {
        const vkq_binding *b = &d->slot[i];
        if (b->access == VKQ_UNUSED)
            continue;
        range r = {b->buf.block, b->buf.offset, b->buf.offset + b->buf.size};
        int reads = b->access == VKQ_READ || b->access == VKQ_READ_WORDS;
        range_list *l = reads ? &rec->pending_reads : &rec->pending_writes;
        if (!GROW(l->items, l->capacity, l->count + 1))
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
        l->items[l->count++] = r;
    }
    return VKQ_OK;
}

vkq_status vkq_rec_dispatch(vkq_rec *rec, const vkq_dispatch *d)
{
    vkq_ctx *ctx = rec->ctx;
    if (rec->state != 1)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "kernel %s recorded outside begin/end",
                        d->kernel->name);
    if (d->push_bytes > VKQ_PUSH_BYTES)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "kernel %s: push constants too large",
                        d->kernel->name);
    if (d->groups[0] == 0 || d->groups[1] == 0 || d->groups[2] == 0)
        return VKQ_OK;
    const uint32_t *max = ctx->props.limits.maxComputeWorkGroupCount;
    if (d->groups[0] > max[0] || d->groups[1] > max[1] || d->groups[2] > max[2])
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "kernel %s: %u x %u x %u workgroups exceed the "
                        "device limit", d->kernel->name, d->groups[0], d->groups[1], d->groups[2]);
    VkPipeline pipeline;
    VKQ_TRY(vkq_pipeline_get(ctx, d, &pipeline));
    VkDescriptorSet set;
    VKQ_TRY(allocate_set(rec, &set));
    VKQ_TRY(write_descriptors(rec, d, set));
    VKQ_TRY(track_hazards(rec, d));
    vkCmdBindPipeline(rec->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    vkCmdBindDescriptorSets(rec->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, ctx->pipeline_layout, 0, 1,
                            &set, 0, NULL);
    if (d->push_bytes) {
        uint8_t push[VKQ_PUSH_BYTES] = {0};
        memcpy(push, d->push, d->push_bytes);
        vkCmdPushConstants(rec->cmd, ctx->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                           VKQ_PUSH_BYTES, push);
    }
    int timed = rec->queries && rec->timed_count < MAX_TIMED;
    if (timed)
        vkCmdWriteTimestamp(rec->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, rec->queries,
                            2 * rec->timed_count);
    vkCmdDispatch(rec->cmd, d->groups[0], d->groups[1], d->groups[2]);
    if (timed) {
        vkCmdWriteTimestamp(rec->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, rec->queries,
                            2 * rec->timed_count + 1);
        rec->timed[rec->timed_count++] = d->kernel->name;
    }
    rec->dispatches++;
    return VKQ_OK;
}

void vkq_profile_add(vkq_ctx *ctx, const char *kernel, double ms)
{
    uint32_t i = 0;
    while (i < ctx->profile_count && strcmp(ctx->profile_rows[i].kernel, kernel) != 0)
        i++;
    if (i == ctx->profile_count) {
        if (!GROW(ctx->profile_rows, ctx->profile_capacity, i + 1))
            return;
        ctx->profile_rows[i] = (vkq_profile_row){kernel, 0, 0.0};
        ctx->profile_count++;
    }
    ctx->profile_rows[i].calls++;
    ctx->profile_rows[i].total_ms += ms;
}

void vkq_ctx_print_profile(const vkq_ctx *ctx, void *file)
{
    FILE *f = file;
    if (!ctx->profile || ctx->profile_count == 0)
        return;
    double total = 0;
    for (uint32_t i = 0; i < ctx->profile_count; i++)
        total += ctx->profile_rows[i].total_ms;
    fprintf(f, "%-28s %10s %12s %10s %7s\n", "kernel", "calls", "total ms", "mean us", "share");
    for (uint32_t i = 0; i < ctx->profile_count; i++) {
        const vkq_profile_row *r = &ctx->profile_rows[i];
        fprintf(f, "%-28s %10llu %12.3f %10.1f %6.1f%%\n", r->kernel, (unsigned long long)r->calls,
                r->total_ms, 1000.0 * r->total_ms / (double)r->calls,
                total > 0 ? 100.0 * r->total_ms / total : 0.0);
    }
}
