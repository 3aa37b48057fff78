/* Files that appear whole or not at all. */
#ifndef VKQ_BASE_FILE_H
#define VKQ_BASE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/status_internal.h"

typedef vkq_status (*vkq_file_writer)(const char *tmp_path, FILE *f, void *user);

/* Runs write on PATH.tmp, flushes and fsyncs it and renames it to path; on any failure the
 * temporary file is removed and path is untouched. */
vkq_status vkq_write_atomic(const char *path, vkq_file_writer write, void *user);
/* mkdir -p: creates path and any missing parents. */
vkq_status vkq_make_dirs(const char *path);
/* Copies a file's bytes to `to`, atomically as vkq_write_atomic writes. */
vkq_status vkq_copy_file(const char *from, const char *to);
/* Removes a directory holding only files (refusing one with a subdirectory); a missing
 * directory is no error. */
vkq_status vkq_remove_flat_dir(const char *path);
/* Puts the complete directory tmp in place of path: an existing path moves aside to
 * PATH.old, tmp is renamed to path, and the old one is removed. */
vkq_status vkq_replace_dir(const char *tmp, const char *path);
/* fwrite with an error naming path. */
vkq_status vkq_write_bytes(const char *path, FILE *f, const void *data, size_t size, size_t n);

/* Bytes made on demand: fill(user, first byte, buffer, bytes) is called with consecutive
 * pieces of what is to be written. */
typedef vkq_status (*vkq_fill_fn)(void *user, uint64_t offset, void *buffer, size_t size);
/* Writes size bytes from fill, a piece of at most 1 MiB at a time. */
vkq_status vkq_write_filled(const char *path, FILE *f, vkq_fill_fn fill, void *user,
                            uint64_t size);
/* Syncs the directory holding path: a rename is durable only once it is synced. */
vkq_status vkq_sync_parent_dir(const char *path);

#endif
