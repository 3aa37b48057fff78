/* What the runtime shares with kernel launchers: pipelines, bindings, dispatch. */
#ifndef VKQ_VK_INTERNAL_H
#define VKQ_VK_INTERNAL_H

#include <stddef.h>

#include "base/status_internal.h"
#include "vk/loader.h"
#include "vkquill/runtime.h"

/* Descriptor slots shared by every kernel: one set layout for all pipelines. */
enum {
    VKQ_STORAGE_SLOTS = 6,   /* bindings 0..5: storage buffers */
    VKQ_TEXEL_SLOTS = 4,     /* bindings 6..9: read-only storage texel buffers */
    VKQ_SLOTS = VKQ_STORAGE_SLOTS + VKQ_TEXEL_SLOTS,
    VKQ_PUSH_BYTES = 128,
    VKQ_MAX_SPEC = 8
};

typedef struct vkq_kernel_desc {
    const char *name;
    const uint32_t *spirv;
    size_t spirv_bytes;
} vkq_kernel_desc;

/* VKQ_READ_WORDS: a texel slot read as RGBA32_UINT texels (16-bit data, two to a word), where
 * VKQ_READ reads RGBA32F. */
typedef enum vkq_access {
    VKQ_UNUSED = 0,
    VKQ_READ,
    VKQ_WRITE,
    VKQ_READ_WRITE,
    VKQ_READ_WORDS
} vkq_access;

typedef struct vkq_binding {
    vkq_buf buf;
    vkq_access access;
} vkq_binding;

typedef struct vkq_dispatch {
    const vkq_kernel_desc *kernel;
    uint32_t spec[VKQ_MAX_SPEC];   /* specialization constants, ids 0.. */
    uint32_t spec_count;
    vkq_binding slot[VKQ_SLOTS];
    const void *push;
    uint32_t push_bytes;
    uint32_t groups[3];
} vkq_dispatch;

vkq_status vkq_rec_dispatch(vkq_rec *rec, const vkq_dispatch *d);
/* Device memory that lives until the recorder's next begin, or until released: a launcher that
 * has recorded every use of it releases it, and a later launcher may get the same memory. */
vkq_status vkq_rec_scratch(vkq_rec *rec, uint64_t bytes, vkq_buf *out);
void vkq_rec_scratch_release(vkq_rec *rec, vkq_buf buf);
vkq_ctx *vkq_rec_ctx(vkq_rec *rec);

#define VKQ_STATIC_ASSERT_PUSH(type) \
    _Static_assert(sizeof(type) <= VKQ_PUSH_BYTES, #type " exceeds the push-constant budget")

#endif
