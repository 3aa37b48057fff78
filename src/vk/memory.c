/* Device memory: large blocks, each one VkBuffer over one allocation, carved into ranges by
 * a first-fit free list. A block holds 64 MiB, or less where the device's largest allocation
 * is smaller; a larger buffer gets a block of its own, up to that largest allocation. Unified-memory devices (CPU drivers, integrated GPUs) keep blocks
 * mapped and copy with memcpy; others go through a host-visible staging block. */
#include <stdlib.h>
#include <string.h>

#include "vk/context.h"

enum { BLOCK_BYTES = 64u << 20, STAGING_CHUNK = 32u << 20 };

static const VkBufferUsageFlags buffer_usage =
    VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_STORAGE_TEXEL_BUFFER_BIT |
    VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;

static int find_memory_type(const vkq_ctx *ctx, uint32_t bits, VkMemoryPropertyFlags want,
                            uint32_t *out)
{
    for (uint32_t i = 0; i < ctx->memory_props.memoryTypeCount; i++)
        if ((bits & (1u << i)) &&
            (ctx->memory_props.memoryTypes[i].propertyFlags & want) == want) {
            *out = i;
            return 1;
        }
    return 0;
}

vkq_status vkq_memory_init(vkq_ctx *ctx)
{
    /* The memory types a buffer of our usage may live in. */
    VkBufferCreateInfo info = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                               .size = 4096,
                               .usage = buffer_usage};
    VkBuffer probe;
    VKQ_VK(vkCreateBuffer(ctx->device, &info, NULL, &probe));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(ctx->device, probe, &req);
    vkDestroyBuffer(ctx->device, probe, NULL);

    const VkMemoryPropertyFlags shared = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT |
                                         VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                         VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    int small_device = ctx->info.type == VKQ_DEVICE_CPU || ctx->info.type == VKQ_DEVICE_INTEGRATED;
    if (small_device && find_memory_type(ctx, req.memoryTypeBits, shared, &ctx->memory_type)) {
        ctx->unified = 1;
        return VKQ_OK;
    }
    if (!find_memory_type(ctx, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                          &ctx->memory_type) &&
        !find_memory_type(ctx, req.memoryTypeBits, 0, &ctx->memory_type))
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s offers no memory type for storage buffers",
                        ctx->info.name);
    const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                       VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    if (!find_memory_type(ctx, req.memoryTypeBits, host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
                          &ctx->staging_type) &&
        !find_memory_type(ctx, req.memoryTypeBits, host, &ctx->staging_type))
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s offers no host-visible memory for uploads",
                        ctx->info.name);
    return VKQ_OK;
}

static void block_destroy(vkq_ctx *ctx, struct vkq_block *b)
{
    if (b->buffer)
        vkDestroyBuffer(ctx->device, b->buffer, NULL);
    if (b->memory)
        vkFreeMemory(ctx->device, b->memory, NULL);
    free(b->free);
    free(b);
}

static vkq_status block_create(vkq_ctx *ctx, uint64_t size, uint32_t type, int map,
                               struct vkq_block **out)
{
    struct vkq_block *b = calloc(1, sizeof *b);
    if (!b)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    b->size = size;
    VkBufferCreateInfo info = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                               .size = size,
                               .usage = buffer_usage};
    vkq_status s = VKQ_OK;
    VkResult r = vkCreateBuffer(ctx->device, &info, NULL, &b->buffer);
    VkMemoryRequirements req = {0};
    if (r == VK_SUCCESS) {
        vkGetBufferMemoryRequirements(ctx->device, b->buffer, &req);
        VkMemoryAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                      .allocationSize = req.size,
                                      .memoryTypeIndex = type};
        r = vkAllocateMemory(ctx->device, &alloc, NULL, &b->memory);
    }
    if (r == VK_SUCCESS)
        r = vkBindBufferMemory(ctx->device, b->buffer, b->memory, 0);
    if (r == VK_SUCCESS && map)
        r = vkMapMemory(ctx->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->host);
    if (r != VK_SUCCESS) {
        s = vkq_fail_vk("vkAllocateMemory", r);
        if (s == VKQ_ERR_OUT_OF_MEMORY)
            s = vkq_fail(s, "could not allocate %.1f MiB of device memory on %s (%.1f MiB in "
                         "use); use a smaller model, batch or sequence length",
                         size / 1048576.0, ctx->info.name, ctx->in_use / 1048576.0);
        block_destroy(ctx, b);
        return s;
    }
    b->free_capacity = 8;
    b->free = malloc(b->free_capacity * sizeof *b->free);
    if (!b->free) {
        block_destroy(ctx, b);
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    b->free[0].offset = 0;
    b->free[0].size = size;
    b->free_count = 1;
    *out = b;
    return VKQ_OK;
}

uint64_t vkq_buf_footprint(uint64_t bytes)
{
    uint64_t b = bytes ? bytes : 4;
    return (b + VKQ_BUF_ALIGNMENT - 1) / VKQ_BUF_ALIGNMENT * VKQ_BUF_ALIGNMENT;
}

uint64_t vkq_memory_block_bytes(void) { return BLOCK_BYTES; }

static int block_take(struct vkq_block *b, uint64_t size, uint64_t *offset)
{
    for (uint32_t i = 0; i < b->free_count; i++) {
        struct vkq_range *r = &b->free[i];
        if (r->size < size)
            continue;
        *offset = r->offset;
        r->offset += size;
        r->size -= size;
        if (r->size == 0) {
            memmove(r, r + 1, (b->free_count - i - 1) * sizeof *r);
            b->free_count--;
        }
        return 1;
    }
    return 0;
}

static vkq_status block_give(struct vkq_block *b, uint64_t offset, uint64_t size)
{
    uint32_t i = 0;
    while (i < b->free_count && b->free[i].offset < offset)
        i++;
    int joins_prev = i > 0 && b->free[i - 1].offset + b->free[i - 1].size == offset;
    int joins_next = i < b->free_count && offset + size == b->free[i].offset;
    if (joins_prev && joins_next) {
        b->free[i - 1].size += size + b->free[i].size;
        memmove(&b->free[i], &b->free[i + 1], (b->free_count - i - 1) * sizeof *b->free);
        b->free_count--;
    } else if (joins_prev) {
        b->free[i - 1].size += size;
    } else if (joins_next) {
        b->free[i].offset = offset;
        b->free[i].size += size;
    } else {
        if (b->free_count == b->free_capacity) {
            struct vkq_range *grown = realloc(b->free, 2 * b->free_capacity * sizeof *grown);
            if (!grown)
                return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
            b->free = grown;
            b->free_capacity *= 2;
        }
        memmove(&b->free[i + 1], &b->free[i], (b->free_count - i) * sizeof *b->free);
        b->free[i].offset = offset;
        b->free[i].size = size;
        b->free_count++;
    }
    return VKQ_OK;
}

vkq_status vkq_buf_alloc(vkq_ctx *ctx, uint64_t bytes, vkq_buf *out)
{
    memset(out, 0, sizeof *out);
    uint64_t size = vkq_buf_footprint(bytes);
    uint64_t most = ctx->info.max_allocation_size;
    if (size > most)
        return vkq_fail(VKQ_ERR_UNSUPPORTED,
                        "a buffer of %llu bytes exceeds %s's largest memory allocation of %llu "
                        "bytes", (unsigned long long)size, ctx->info.name,
                        (unsigned long long)most);
    uint64_t offset = 0;
    struct vkq_block *b = ctx->blocks;
    while (b && !block_take(b, size, &offset))
        b = b->next;
    if (!b) {
        uint64_t block_bytes = BLOCK_BYTES < most ? BLOCK_BYTES : most;
        if (size > block_bytes)
            block_bytes = size;
        VKQ_TRY(block_create(ctx, block_bytes, ctx->memory_type, ctx->unified, &b));
        b->next = ctx->blocks;
        ctx->blocks = b;
        block_take(b, size, &offset);
    }
    out->block = b;
    out->offset = offset;
    out->size = bytes;
    ctx->in_use += size;
    if (ctx->in_use > ctx->peak)
        ctx->peak = ctx->in_use;
    return VKQ_OK;
}

void vkq_buf_free(vkq_ctx *ctx, vkq_buf *buf)
{
    if (!buf->block)
        return;
    uint64_t size = vkq_buf_footprint(buf->size);
    if (block_give(buf->block, buf->offset, size) == VKQ_OK)
        ctx->in_use -= size;
    memset(buf, 0, sizeof *buf);
}

vkq_buf vkq_buf_slice(vkq_buf buf, uint64_t offset, uint64_t size)
{
    vkq_buf s = {buf.block, buf.offset + offset, size};
    return s;
}

void vkq_memory_destroy(vkq_ctx *ctx)
{
    while (ctx->blocks) {
        struct vkq_block *next = ctx->blocks->next;
        block_destroy(ctx, ctx->blocks);
        ctx->blocks = next;
    }
    if (ctx->staging.block)
        block_destroy(ctx, ctx->staging.block);
    ctx->staging.block = NULL;
}

static vkq_status check_range(vkq_buf buf, uint64_t offset, uint64_t bytes, const char *what)
{
    if (!buf.block || offset > buf.size || bytes > buf.size - offset)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "%s of %llu bytes at offset %llu is outside a buffer of %llu bytes", what,
                        (unsigned long long)bytes, (unsigned long long)offset,
                        (unsigned long long)buf.size);
    return VKQ_OK;
}

static vkq_status staging_ready(vkq_ctx *ctx)
{
    if (ctx->staging.block)
        return VKQ_OK;
    uint64_t size = STAGING_CHUNK < ctx->info.max_allocation_size ? STAGING_CHUNK
                                                                  : ctx->info.max_allocation_size;
    VKQ_TRY(block_create(ctx, size, ctx->staging_type, 1, &ctx->staging.block));
    ctx->staging.size = size;
    return VKQ_OK;
}

/* Copies bytes between the staging block and buf, one command buffer. */
static vkq_status staging_copy(vkq_ctx *ctx, vkq_buf buf, uint64_t offset, uint64_t bytes,
                               int to_device)
{
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = ctx->command_pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    VkCommandBuffer cmd;
    VKQ_VK(vkAllocateCommandBuffers(ctx->device, &ai, &cmd));
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    vkq_status s = VKQ_OK;
    VkResult r = vkBeginCommandBuffer(cmd, &bi);
    if (r == VK_SUCCESS) {
        VkMemoryBarrier before = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                                  .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                                  .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT |
                                                   VK_ACCESS_TRANSFER_WRITE_BIT};
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                             VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &before, 0, NULL, 0, NULL);
        VkBufferCopy region = {.size = bytes};
        if (to_device) {
            region.dstOffset = buf.offset + offset;
            vkCmdCopyBuffer(cmd, ctx->staging.block->buffer, buf.block->buffer, 1, &region);
        } else {
            region.srcOffset = buf.offset + offset;
            vkCmdCopyBuffer(cmd, buf.block->buffer, ctx->staging.block->buffer, 1, &region);
        }
        VkMemoryBarrier after = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                                 .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                                 .dstAccessMask = VK_ACCESS_HOST_READ_BIT |
                                                  VK_ACCESS_SHADER_READ_BIT};
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                             VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0,
                             1, &after, 0, NULL, 0, NULL);
        r = vkEndCommandBuffer(cmd);
    }
    s = r == VK_SUCCESS ? vkq_submit_wait(ctx, cmd) : vkq_fail_vk("vkEndCommandBuffer", r);
    vkFreeCommandBuffers(ctx->device, ctx->command_pool, 1, &cmd);
    return s;
}

vkq_status vkq_buf_upload(vkq_ctx *ctx, vkq_buf dst, uint64_t offset, const void *src,
                          uint64_t bytes)
{
    VKQ_TRY(check_range(dst, offset, bytes, "upload"));
    if (dst.block->host) {
        memcpy((char *)dst.block->host + dst.offset + offset, src, bytes);
        return VKQ_OK;
    }
    VKQ_TRY(staging_ready(ctx));
    uint64_t chunk = ctx->staging.size;
    for (uint64_t done = 0; done < bytes; done += chunk) {
        uint64_t n = bytes - done < chunk ? bytes - done : chunk;
        memcpy(ctx->staging.block->host, (const char *)src + done, n);
        VKQ_TRY(staging_copy(ctx, dst, offset + done, n, 1));
    }
    return VKQ_OK;
}

vkq_status vkq_buf_download(vkq_ctx *ctx, vkq_buf src, uint64_t offset, void *dst, uint64_t bytes)
{
    VKQ_TRY(check_range(src, offset, bytes, "download"));
    if (src.block->host) {
        memcpy(dst, (const char *)src.block->host + src.offset + offset, bytes);
        return VKQ_OK;
    }
    VKQ_TRY(staging_ready(ctx));
    uint64_t chunk = ctx->staging.size;
    for (uint64_t done = 0; done < bytes; done += chunk) {
        uint64_t n = bytes - done < chunk ? bytes - done : chunk;
        VKQ_TRY(staging_copy(ctx, src, offset + done, n, 0));
        memcpy((char *)dst + done, ctx->staging.block->host, n);
    }
    return VKQ_OK;
}

vkq_status vkq_units_per_piece(const vkq_ctx *ctx, uint64_t units, uint64_t unit_bytes,
                               uint64_t *out)
{
    uint64_t most = vkq_ctx_max_binding(ctx);
    if (unit_bytes == 0 || unit_bytes > most)
        return vkq_fail(VKQ_ERR_UNSUPPORTED,
                        "a row of %llu bytes exceeds %s's largest binding of %llu bytes",
                        (unsigned long long)unit_bytes, ctx->info.name, (unsigned long long)most);
    *out = most / unit_bytes < units ? most / unit_bytes : units;
    return VKQ_OK;
}

vkq_status vkq_pieces_alloc(vkq_ctx *ctx, uint64_t units, uint64_t unit_bytes, vkq_pieces *out)
{
    memset(out, 0, sizeof *out);
    uint64_t per = 0;
    VKQ_TRY(vkq_units_per_piece(ctx, units ? units : 1, unit_bytes, &per));
    uint64_t count = units ? (units + per - 1) / per : 1;
    if (count > UINT32_MAX)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "a buffer of %llu pieces is too many",
                        (unsigned long long)count);
    out->piece = calloc(count, sizeof *out->piece);
    if (!out->piece)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    *out = (vkq_pieces){out->piece, (uint32_t)count, units, unit_bytes, per};
    for (uint32_t i = 0; i < out->count; i++) {
        uint64_t n = vkq_pieces_units(out, i);
        vkq_status s = vkq_buf_alloc(ctx, (n ? n : 1) * unit_bytes, &out->piece[i]);
        if (s != VKQ_OK) {
            vkq_saved_error e = vkq_error_save(s);
            vkq_pieces_free(ctx, out);
            return vkq_error_restore(&e);
        }
    }
    return VKQ_OK;
}

void vkq_pieces_free(vkq_ctx *ctx, vkq_pieces *p)
{
    for (uint32_t i = 0; p->piece && i < p->count; i++)
        vkq_buf_free(ctx, &p->piece[i]);
    free(p->piece);
    memset(p, 0, sizeof *p);
}

/* Copies units [first, first + count) piece by piece, from src or else into dst. */
static vkq_status pieces_copy(vkq_ctx *ctx, const vkq_pieces *p, uint64_t first, uint64_t count,
                              const char *src, char *dst)
{
    if (first > p->units || count > p->units - first)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "units %llu..%llu are outside a buffer of %llu units",
                        (unsigned long long)first, (unsigned long long)(first + count),
                        (unsigned long long)p->units);
    while (count) {
        uint32_t i = (uint32_t)(first / p->per_piece);
        uint64_t at = first - i * p->per_piece, n = vkq_pieces_units(p, i) - at;
        n = n < count ? n : count;
        uint64_t offset = at * p->unit_bytes, bytes = n * p->unit_bytes;
        if (src) {
            VKQ_TRY(vkq_buf_upload(ctx, p->piece[i], offset, src, bytes));
            src += bytes;
        } else {
            VKQ_TRY(vkq_buf_download(ctx, p->piece[i], offset, dst, bytes));
            dst += bytes;
        }
        first += n;
        count -= n;
    }
    return VKQ_OK;
}

vkq_status vkq_pieces_upload(vkq_ctx *ctx, const vkq_pieces *p, uint64_t first, uint64_t count,
                             const void *src)
{
    return pieces_copy(ctx, p, first, count, src, NULL);
}

vkq_status vkq_pieces_download(vkq_ctx *ctx, const vkq_pieces *p, uint64_t first,
                               uint64_t count, void *dst)
{
    return pieces_copy(ctx, p, first, count, NULL, dst);
}
