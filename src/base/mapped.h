/* Whole files mapped read-only into memory. */
#ifndef VKQ_BASE_MAPPED_H
#define VKQ_BASE_MAPPED_H

#include <stddef.h>

#include "base/status_internal.h"

typedef struct vkq_mapped_file {
    const unsigned char *data; /* NULL for an empty file */
    size_t size;
} vkq_mapped_file;

/* Maps path read-only; the pages are read from disk as they are touched. */
vkq_status vkq_map_file(const char *path, vkq_mapped_file *out);
void vkq_unmap_file(vkq_mapped_file *m);

#endif
