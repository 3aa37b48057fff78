/* The Vulkan runtime: devices, a context, device buffers and a recorder of dispatches.
 * Nothing here knows about models; kernels are launched through include/vkquill/kernels.h. */
#ifndef VKQUILL_RUNTIME_H
#define VKQUILL_RUNTIME_H

#include <stdint.h>

#include "vkquill/status.h"

typedef struct vkq_ctx vkq_ctx;
typedef struct vkq_rec vkq_rec;
typedef struct vkq_block vkq_block;

/* A range of a device memory block. Plain value; the context owns the memory. */
typedef struct vkq_buf {
    vkq_block *block;
    uint64_t offset;
    uint64_t size;
} vkq_buf;

typedef enum vkq_device_type {
    VKQ_DEVICE_DISCRETE,
    VKQ_DEVICE_INTEGRATED,
    VKQ_DEVICE_VIRTUAL,
    VKQ_DEVICE_CPU,
    VKQ_DEVICE_OTHER
} vkq_device_type;

/* Kernel variants: what is fast on a CPU driver is the opposite of what is fast on a GPU. */
typedef enum vkq_variant {
    VKQ_VARIANT_AUTO = 0,
    VKQ_VARIANT_CPU,  /* lavapipe and other CPU drivers: register tiles, texel buffers, shuffles */
    VKQ_VARIANT_GPU   /* GPUs: shared-memory tiles */
} vkq_variant;

#define VKQ_MAX_HEAPS 8

typedef struct vkq_device_info {
    uint32_t index;
    char name[256];
    vkq_device_type type;
    char driver[256];
    uint32_t api_version;
    uint32_t vendor_id;
    uint32_t device_id;
    uint32_t heap_count;
    uint64_t heap_size[VKQ_MAX_HEAPS];
    int heap_device_local[VKQ_MAX_HEAPS];
    uint32_t subgroup_size;
    int subgroup_shuffle;
    int subgroup_arithmetic;
    int fp16;
    int int8;
    int int64; /* shaderInt64, which the cpu variant needs */
    int cooperative_matrix;
    uint32_t max_workgroup_invocations;
    /* The limits in force: the device's, or lower where VKQ_DEBUG_MAX_BINDING (bytes one
     * storage buffer binding may cover) or VKQ_DEBUG_MAX_ALLOCATION (bytes of one memory
     * allocation) ask for less, so that a small model takes the paths of a large one. Texel
     * views keep the device's limit, so that kernels read the same way as without. */
    uint32_t max_texel_buffer_elements;
    uint64_t max_storage_buffer_range;
    uint64_t max_allocation_size;
    int debug_limits; /* one of the VKQ_DEBUG_ variables lowered a limit */
    int usable; /* Vulkan 1.1 and a compute queue */
    /* lavapipe only: its vector width and why it was chosen; empty on other drivers. */
    char cpu_vectors[160];
} vkq_device_info;

const char *vkq_device_type_name(vkq_device_type type);
const char *vkq_variant_name(vkq_variant variant);

/* Lists the devices the loader sees. *count receives the total, even when it exceeds max. */
vkq_status vkq_enumerate_devices(vkq_device_info *out, uint32_t max, uint32_t *count);

/* The device a context would take: `want` is an index or a name substring (NULL or empty: the
 * best usable device, discrete > integrated > virtual > cpu). */
vkq_status vkq_pick_device(const vkq_device_info *infos, uint32_t count, const char *want,
                           uint32_t *chosen);

typedef struct vkq_ctx_options {
    const char *device;   /* index or name substring; NULL: $VKQ_DEVICE, else the best device */
    int validate;         /* 1 on, 0 off, -1: $VKQ_VALIDATE */
    vkq_variant variant;  /* AUTO: $VKQ_VARIANT, else chosen from the device */
} vkq_ctx_options;

#define VKQ_CTX_OPTIONS_DEFAULT {NULL, -1, VKQ_VARIANT_AUTO}

vkq_status vkq_ctx_create(const vkq_ctx_options *options, vkq_ctx **out);
/* Saves the pipeline cache, reports leaks of validation messages, frees everything. */
vkq_status vkq_ctx_destroy(vkq_ctx *ctx);
const vkq_device_info *vkq_ctx_device(const vkq_ctx *ctx);
vkq_variant vkq_ctx_variant(const vkq_ctx *ctx);
/* Whether the CPU variants can run on this device (subgroups of 8 with shuffle and arithmetic,
 * RGBA32F texel buffers). */
int vkq_ctx_supports_variant(const vkq_ctx *ctx, vkq_variant variant);
void vkq_ctx_set_variant(vkq_ctx *ctx, vkq_variant variant);
/* Bytes of device memory in use now and at most so far. */
uint64_t vkq_ctx_memory_in_use(const vkq_ctx *ctx);
uint64_t vkq_ctx_memory_peak(const vkq_ctx *ctx);

vkq_status vkq_buf_alloc(vkq_ctx *ctx, uint64_t bytes, vkq_buf *out);
/* Every buffer range starts on a multiple of this: Vulkan caps minStorageBufferOffsetAlignment
 * and minTexelBufferOffsetAlignment at 256, so it suits every device. */
enum { VKQ_BUF_ALIGNMENT = 256 };
/* The device memory a buffer of that many bytes takes (its size rounded up to the alignment
 * of every range), and the size of the blocks that hold buffers up to that size (a larger
 * buffer gets a block of its own). */
uint64_t vkq_buf_footprint(uint64_t bytes);
uint64_t vkq_memory_block_bytes(void);
void vkq_buf_free(vkq_ctx *ctx, vkq_buf *buf);
/* The most bytes one buffer may hold so that a kernel can bind it whole, as a storage buffer
 * or as a texel view, and one allocation can hold it. */
uint64_t vkq_ctx_max_binding(const vkq_ctx *ctx);
uint64_t vkq_device_max_binding(const vkq_device_info *d);
/* Synchronous copies between host memory and a buffer (offset in bytes within buf). */
vkq_status vkq_buf_upload(vkq_ctx *ctx, vkq_buf dst, uint64_t offset, const void *src, uint64_t bytes);
vkq_status vkq_buf_download(vkq_ctx *ctx, vkq_buf src, uint64_t offset, void *dst, uint64_t bytes);
/* A sub-range of a buffer, in bytes. */
vkq_buf vkq_buf_slice(vkq_buf buf, uint64_t offset, uint64_t size);

/* A buffer larger than one binding, held as pieces of whole units (e.g. rows of a matrix):
 * every piece but the last holds per_piece units, and each fits vkq_ctx_max_binding. */
typedef struct vkq_pieces {
    vkq_buf *piece;
    uint32_t count;
    uint64_t units, unit_bytes, per_piece;
} vkq_pieces;

/* Units of unit_bytes that one piece may hold (at most `units`); fails when not even one fits. */
vkq_status vkq_units_per_piece(const vkq_ctx *ctx, uint64_t units, uint64_t unit_bytes,
                               uint64_t *out);
vkq_status vkq_pieces_alloc(vkq_ctx *ctx, uint64_t units, uint64_t unit_bytes, vkq_pieces *out);
void vkq_pieces_free(vkq_ctx *ctx, vkq_pieces *p);
/* Units that piece i holds; piece i starts at unit i * per_piece. */
static inline uint64_t vkq_pieces_units(const vkq_pieces *p, uint32_t i)
{
    uint64_t first = (uint64_t)i * p->per_piece;
    return p->units - first < p->per_piece ? p->units - first : p->per_piece;
}
/* Units [first, first + count) from or to host memory. */
vkq_status vkq_pieces_upload(vkq_ctx *ctx, const vkq_pieces *p, uint64_t first, uint64_t count,
                             const void *src);
vkq_status vkq_pieces_download(vkq_ctx *ctx, const vkq_pieces *p, uint64_t first,
                               uint64_t count, void *dst);

/* A recorder holds one command buffer: begin, record many dispatches, end, then submit as
 * often as wanted (each submit waits for completion). Scratch memory that launchers ask for
 * lives until the next begin. */
vkq_status vkq_rec_create(vkq_ctx *ctx, vkq_rec **out);
void vkq_rec_destroy(vkq_rec *rec);
vkq_status vkq_rec_begin(vkq_rec *rec);
vkq_status vkq_rec_end(vkq_rec *rec);
vkq_status vkq_rec_submit(vkq_rec *rec);
uint32_t vkq_rec_dispatch_count(const vkq_rec *rec);

/* VKQ_PROFILE=1: per-kernel time table of everything submitted so far, to f. */
void vkq_ctx_print_profile(const vkq_ctx *ctx, void *file);

#endif
