/* Files that appear whole or not at all, and checksummed reads and writes. */
#ifndef VKQ_BASE_FILE_H
#define VKQ_BASE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

#include "base/status_internal.h"

typedef vkq_status (*vkq_file_writer)(const char *tmp_path, FILE *f, void *user);

/* Runs write on PATH.tmp, flushes and fsyncs it, renames it to path and fsyncs the directory;
 * on any failure the temporary file is removed and path is untouched.
 * Crash tests: with VKQ_CRASH_AT_WRITE=N in the environment, the process kills itself
 * (SIGKILL) inside its Nth atomic write, after the writer ran and before anything is
 * flushed, so PATH.tmp is left half-written. */
vkq_status vkq_write_atomic(const char *path, vkq_file_writer write, void *user);
/* Removes a file; a missing one is no error. */
vkq_status vkq_remove_if_present(const char *path);
/* Removes the PATH.tmp an interrupted vkq_write_atomic of path may have left. */
vkq_status vkq_remove_temporary(const char *path);
/* mkdir -p: creates path and any missing parents. */
vkq_status vkq_make_dirs(const char *path);
/* Copies a file's bytes to `to`, atomically as vkq_write_atomic writes. */
vkq_status vkq_copy_file(const char *from, const char *to);
/* Removes a directory holding only files (refusing one with a subdirectory); a missing
 * directory is no error. */
vkq_status vkq_remove_flat_dir(const char *path);
/* The length of path's directory part, its last slash included (0 for a bare file name):
 * "%.*sNAME" with it names the file NAME beside path. */
size_t vkq_dir_part(const char *path);
/* rm -rf: removes path and everything under it, following no links; a missing path is no
 * error. */
vkq_status vkq_remove_tree(const char *path);
/* Puts the complete directory tmp in place of path: an existing path moves aside to
 * PATH.old, tmp is renamed to path (and the parent directory synced), and the old one is
 * removed. */
vkq_status vkq_replace_dir(const char *tmp, const char *path);
/* A directory that appears complete or not at all: write fills PATH.tmp (emptied first), which
 * then takes path's place through vkq_replace_dir. An existing path is replaced only when it is
 * a directory holding a file named marker; the refusal calls it `what` ("a model directory"). */
typedef vkq_status (*vkq_dir_writer)(const char *tmp_dir, void *user);
vkq_status vkq_write_dir_atomic(const char *path, const char *marker, const char *what,
                                vkq_dir_writer write, void *user);
/* fwrite with an error naming path. */
vkq_status vkq_write_bytes(const char *path, FILE *f, const void *data, size_t size, size_t n);

/* The XXH64 (xxHash's 64-bit hash, seed 0) of all the bytes given to it so far, in order:
 * how they were split does not matter. */
typedef struct vkq_checksum {
    XXH64_state_t state;
} vkq_checksum;

void vkq_checksum_start(vkq_checksum *c);
void vkq_checksum_add(vkq_checksum *c, const void *data, size_t bytes);
uint64_t vkq_checksum_value(const vkq_checksum *c);
/* fwrite / fread of n items that also add their bytes to c; errors name path. */
vkq_status vkq_write_summed(const char *path, FILE *f, const void *data, size_t size, size_t n,
                            vkq_checksum *c);
vkq_status vkq_read_summed(const char *path, FILE *f, void *data, size_t size, size_t n,
                           vkq_checksum *c);
/* Bytes made on demand: fill(user, first byte, buffer, bytes) is called with consecutive
 * pieces of what is to be written. */
typedef vkq_status (*vkq_fill_fn)(void *user, uint64_t offset, void *buffer, size_t size);
/* Writes size bytes from fill, a piece of at most 1 MiB at a time. */
vkq_status vkq_write_filled(const char *path, FILE *f, vkq_fill_fn fill, void *user,
                            uint64_t size);
/* Syncs the directory holding path: a rename is durable only once it is synced. */
vkq_status vkq_sync_parent_dir(const char *path);

#endif
