/* What the safetensors reader, the model-directory reader and the writer share. */
#ifndef VKQ_MODEL_SAFETENSORS_INTERNAL_H
#define VKQ_MODEL_SAFETENSORS_INTERNAL_H

#include "vkquill/safetensors.h"

enum { VKQ_ST_SHOWN = 128 };

/* name as it goes into a one-line message: control characters as '?', long names cut. */
const char *vkq_st_shown(const char *name, char buffer[VKQ_ST_SHOWN]);

/* The element count and byte size of a tensor; on overflow or a partial byte, a status with
 * *problem saying which. */
vkq_status vkq_st_element_bytes(vkq_st_dtype dtype, const uint64_t *shape, int rank,
                                uint64_t *count, uint64_t *bytes, const char **problem);

/* The path f was opened under. */
const char *vkq_st_path(const vkq_st_file *f);

/* dir/name in a new allocation; NULL when out of memory. */
char *vkq_st_join(const char *dir, const char *name);

#define VKQ_ST_SINGLE_NAME "model.safetensors"
#define VKQ_ST_INDEX_NAME "model.safetensors.index.json"

#endif
