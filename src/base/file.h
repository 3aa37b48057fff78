/* Files that appear whole or not at all. */
#ifndef VKQ_BASE_FILE_H
#define VKQ_BASE_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "base/status_internal.h"

typedef vkq_status (*vkq_file_writer)(const char *tmp_path, FILE *f, void *user);

/* Runs write on PATH.tmp, flushes and fsyncs it and renames it to path; on any failure the
 * temporary file is removed and path is untouched. */
vkq_status vkq_write_atomic(const char *path, vkq_file_writer write, void *user);
/* mkdir -p: creates path and any missing parents. */
vkq_status vkq_make_dirs(const char *path);
/* fwrite with an error naming path. */
vkq_status vkq_write_bytes(const char *path, FILE *f, const void *data, size_t size, size_t n);

#endif
