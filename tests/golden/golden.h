/* Reader for the tagged golden files that tools/make_golden.py writes (tests only).
 *
 * Format, little-endian: "VKQG", uint32 version (1), uint32 record count, then per record:
 * uint32 name length, the name (ASCII, no NUL), uint32 dtype (0 = float32, 1 = int32),
 * uint32 ndim, ndim x uint32 dims, then the row-major data. Nothing may follow the last
 * record. Every record's data is copied into its own aligned allocation. */
#ifndef VKQ_TESTS_GOLDEN_H
#define VKQ_TESTS_GOLDEN_H

#include <stddef.h>
#include <stdint.h>

#include "vkquill/status.h"

#define VKQ_GOLDEN_MAX_DIMS 8
#define VKQ_GOLDEN_MAX_NAME 255
/* In an expected shape: any extent is accepted for this dimension. */
#define VKQ_GOLDEN_ANY UINT32_MAX

typedef enum vkq_golden_dtype {
    VKQ_GOLDEN_F32 = 0,
    VKQ_GOLDEN_I32 = 1
} vkq_golden_dtype;

typedef struct vkq_golden_record {
    char name[VKQ_GOLDEN_MAX_NAME + 1];
    vkq_golden_dtype dtype;
    uint32_t ndim;
    uint32_t dims[VKQ_GOLDEN_MAX_DIMS];
    size_t count; /* product of dims */
    union {
        float *f32;
        int32_t *i32;
        void *raw;
    } data;
} vkq_golden_record;

typedef struct vkq_golden {
    uint32_t version;
    uint32_t n_records;
    vkq_golden_record *records; /* in file order */
} vkq_golden;

/* Load and validate a whole file. VKQ_ERR_IO if it cannot be read, VKQ_ERR_FORMAT (with the
 * path, record and byte offset in vkq_last_error()) if it is malformed. *out is zeroed on
 * failure, so vkq_golden_free() is always safe. */
vkq_status vkq_golden_load(const char *path, vkq_golden *out);

/* The same from memory; what names the source in error messages. */
vkq_status vkq_golden_parse(const void *bytes, size_t size, const char *what, vkq_golden *out);

void vkq_golden_free(vkq_golden *g);

/* The record called name, or NULL. */
const vkq_golden_record *vkq_golden_find(const vkq_golden *g, const char *name);

/* The record called name, checked to have this dtype and shape (ndim dims; an entry of
 * VKQ_GOLDEN_ANY accepts any extent). VKQ_ERR_FORMAT with a message saying what differs. */
vkq_status vkq_golden_get(const vkq_golden *g, const char *name, vkq_golden_dtype dtype,
                          uint32_t ndim, const uint32_t *dims, const vkq_golden_record **out);

/* Shorthands for a record of exactly count elements of any shape. */
vkq_status vkq_golden_f32(const vkq_golden *g, const char *name, size_t count,
                          const float **out);
vkq_status vkq_golden_i32(const vkq_golden *g, const char *name, size_t count,
                          const int32_t **out);

#endif
