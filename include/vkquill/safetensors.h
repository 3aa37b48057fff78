/* safetensors files: a reader that trusts nothing in the file, and an atomic writer, both for
 * single files and for directories sharded through model.safetensors.index.json.
 *
 * A file is an 8-byte little-endian header length N, N bytes of JSON
 * {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then
 * the data section, which the tensors must cover exactly. Files are memory-mapped read-only,
 * so a caller can convert and upload a tensor in pieces without a second copy of the file. */
#ifndef VKQUILL_SAFETENSORS_H
#define VKQUILL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "vkquill/dtype.h"
#include "vkquill/status.h"

/* Every dtype the format names. Files holding any of them open; only F32, F16 and BF16
 * convert to and from fp32. */
typedef enum vkq_st_dtype {
    VKQ_ST_BOOL, VKQ_ST_F4, VKQ_ST_F6_E2M3, VKQ_ST_F6_E3M2, VKQ_ST_U8, VKQ_ST_I8,
    VKQ_ST_F8_E5M2, VKQ_ST_F8_E4M3, VKQ_ST_F8_E8M0, VKQ_ST_I16, VKQ_ST_U16, VKQ_ST_F16,
    VKQ_ST_BF16, VKQ_ST_I32, VKQ_ST_U32, VKQ_ST_F32, VKQ_ST_C64, VKQ_ST_F64, VKQ_ST_I64,
    VKQ_ST_U64,
    VKQ_ST_DTYPE_COUNT
} vkq_st_dtype;

const char *vkq_st_dtype_name(vkq_st_dtype dtype);
/* The device dtype that keeps weights of this dtype as they are: BF16, F16, else F32. */
vkq_dtype vkq_st_device_dtype(vkq_st_dtype dtype);
/* Bits per element (4 for F4, 6 for F6_*). */
unsigned vkq_st_dtype_bits(vkq_st_dtype dtype);
/* 1 for F32, F16 and BF16, the dtypes vkq_st_to_f32 and vkq_st_from_f32 handle. */
int vkq_st_dtype_is_float(vkq_st_dtype dtype);

enum { VKQ_ST_MAX_RANK = 8 };
/* The reference reader's bound on the header. */
#define VKQ_ST_MAX_HEADER_BYTES 100000000u

typedef struct vkq_st_tensor {
    const char *name;
    const char *file; /* the path it was read from */
    vkq_st_dtype dtype;
    int rank;
    uint64_t shape[VKQ_ST_MAX_RANK];
    uint64_t count;            /* elements: the product of shape (1 for rank 0) */
    uint64_t size;             /* bytes */
    const unsigned char *data; /* inside the mapping; not aligned */
} vkq_st_tensor;

/* One opened file. */
typedef struct vkq_st_file vkq_st_file;

vkq_status vkq_st_open(const char *path, vkq_st_file **out);
/* Parses a whole file held in memory (borrowed: it must outlive the result); path only names
 * it in messages. */
vkq_status vkq_st_parse(const char *path, const void *bytes, size_t size, vkq_st_file **out);
void vkq_st_close(vkq_st_file *f);

size_t vkq_st_count(const vkq_st_file *f);
/* The tensors in the order of their data in the file. */
const vkq_st_tensor *vkq_st_at(const vkq_st_file *f, size_t index);
/* NULL when f has no tensor of that name. */
const vkq_st_tensor *vkq_st_find(const vkq_st_file *f, const char *name);
/* A __metadata__ value; NULL when absent. */
const char *vkq_st_metadata(const vkq_st_file *f, const char *key);

/* A model directory: model.safetensors.index.json and its shards, or one model.safetensors.
 * Every shard is opened once; every tensor the index names must be in its shard and every
 * tensor of a shard must be named by the index. */
typedef struct vkq_st_model vkq_st_model;

vkq_status vkq_st_model_open(const char *dir, vkq_st_model **out);
void vkq_st_model_close(vkq_st_model *m);
size_t vkq_st_model_count(const vkq_st_model *m);
/* Sorted by name. */
const vkq_st_tensor *vkq_st_model_at(const vkq_st_model *m, size_t index);
/* NULL when absent. */
const vkq_st_tensor *vkq_st_model_find(const vkq_st_model *m, const char *name);
/* Like vkq_st_model_find, with an error naming the directory and the tensor when absent. */
vkq_status vkq_st_model_get(const vkq_st_model *m, const char *name, const vkq_st_tensor **out);

/* Elements [first, first + n) of t as fp32; refuses (naming the file and the tensor) dtypes
 * other than F32, F16 and BF16 and ranges past the end. */
vkq_status vkq_st_to_f32(const vkq_st_tensor *t, uint64_t first, size_t n, float *out);
/* n floats into n elements of dtype (little-endian bytes); F32, F16 and BF16 only. */
vkq_status vkq_st_from_f32(vkq_st_dtype dtype, const float *in, size_t n, void *out);

/* Writing. A tensor's bytes come from data, or when data is NULL from fill, called with
 * consecutive pieces: fill(user, first byte, buffer, bytes). */
typedef vkq_status (*vkq_st_fill)(void *user, uint64_t offset, void *buffer, size_t size);

typedef struct vkq_st_write_tensor {
    const char *name;
    vkq_st_dtype dtype;
    int rank;
    uint64_t shape[VKQ_ST_MAX_RANK];
    const void *data;
    vkq_st_fill fill;
    void *user;
} vkq_st_write_tensor;

typedef struct vkq_st_metadata_entry {
    const char *key, *value;
} vkq_st_metadata_entry;

/* One file, written as the reference writer lays it out: tensors by descending dtype then by
 * name, compact header JSON with __metadata__ first, padded with spaces to a multiple of 8.
 * Written to path.tmp, fsynced, renamed over path, and the directory fsynced; on failure path
 * is untouched. */
vkq_status vkq_st_write_file(const char *path, const vkq_st_write_tensor *tensors, size_t n,
                             const vkq_st_metadata_entry *metadata, size_t n_metadata);

#define VKQ_ST_DEFAULT_SHARD_BYTES (2ull << 30)

/* Into directory dir (created when missing): model.safetensors when the tensor bytes fit in
 * shard_bytes, else model-0000i-of-0000n.safetensors shards (a new shard starts where the next
 * tensor would pass shard_bytes; a larger tensor gets a shard of its own) and
 * model.safetensors.index.json as transformers writes it. Shards first, the index last. */
vkq_status vkq_st_write_model(const char *dir, const vkq_st_write_tensor *tensors, size_t n,
                              const vkq_st_metadata_entry *metadata, size_t n_metadata,
                              uint64_t shard_bytes);

#endif
