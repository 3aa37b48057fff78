#define _XOPEN_SOURCE 700 /* nftw */
#include "base/file.h"

#include "base/mapped.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

vkq_status vkq_write_bytes(const char *path, FILE *f, const void *data, size_t size, size_t n)
{
    if (fwrite(data, size, n, f) != n)
        return vkq_fail(VKQ_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return VKQ_OK;
}

void vkq_checksum_start(vkq_checksum *c) { XXH64_reset(&c->state, 0); }

void vkq_checksum_add(vkq_checksum *c, const void *data, size_t bytes)
{
    XXH64_update(&c->state, data, bytes);
}

uint64_t vkq_checksum_value(const vkq_checksum *c) { return XXH64_digest(&c->state); }

vkq_status vkq_write_summed(const char *path, FILE *f, const void *data, size_t size, size_t n,
                            vkq_checksum *c)
{
    vkq_checksum_add(c, data, size * n);
    return vkq_write_bytes(path, f, data, size, n);
}

vkq_status vkq_read_summed(const char *path, FILE *f, void *data, size_t size, size_t n,
                           vkq_checksum *c)
{
    if (fread(data, size, n, f) != n)
        return vkq_fail(VKQ_ERR_IO, "%s: read failed: %s", path,
                        ferror(f) ? strerror(errno) : "the file shrank while being read");
    vkq_checksum_add(c, data, size * n);
    return VKQ_OK;
}

enum { FILL_PIECE = 1 << 20 };

vkq_status vkq_write_filled(const char *path, FILE *f, vkq_fill_fn fill, void *user,
                            uint64_t size)
{
    unsigned char *piece = malloc(FILL_PIECE);
    if (!piece)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a write buffer", path);
    vkq_status s = VKQ_OK;
    for (uint64_t at = 0; at < size && s == VKQ_OK; at += FILL_PIECE) {
        size_t n = size - at < FILL_PIECE ? (size_t)(size - at) : FILL_PIECE;
        s = fill(user, at, piece, n);
        if (s == VKQ_OK)
            s = vkq_write_bytes(path, f, piece, 1, n);
    }
    free(piece);
    return s;
}

static char *temporary_path(const char *path)
{
    size_t length = strlen(path);
    char *tmp = malloc(length + sizeof ".tmp");
    if (tmp) {
        memcpy(tmp, path, length);
        memcpy(tmp + length, ".tmp", sizeof ".tmp");
    }
    return tmp;
}

vkq_status vkq_remove_if_present(const char *path)
{
    if (remove(path) != 0 && errno != ENOENT)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    return VKQ_OK;
}

vkq_status vkq_remove_temporary(const char *path)
{
    char *tmp = temporary_path(path);
    if (!tmp)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", path);
    vkq_status s = vkq_remove_if_present(tmp);
    free(tmp);
    return s;
}

/* Whether this atomic write is the one VKQ_CRASH_AT_WRITE names. */
static int crash_here(void)
{
    static long count;
    const char *at = getenv("VKQ_CRASH_AT_WRITE");
    return at && ++count == atol(at);
}

size_t vkq_dir_part(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) + 1 : 0;
}

vkq_status vkq_sync_parent_dir(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir] = '\0'; /* "/x" -> "/" */
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    vkq_status s = VKQ_OK;
    /* some file systems cannot sync a directory (EINVAL); nothing more can be done there */
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
        s = vkq_fail(VKQ_ERR_IO, "%s: cannot sync the directory: %s", slash ? dir : ".",
                     strerror(errno));
    if (fd >= 0)
        close(fd);
    free(dir);
    return s;
}

static vkq_status write_and_rename(const char *path, const char *tmp, vkq_file_writer write,
                                   void *user)
{
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    vkq_status status = write(tmp, f, user);
    if (crash_here())
        raise(SIGKILL);
    if (status == VKQ_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        status = vkq_fail(VKQ_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && status == VKQ_OK)
        status = vkq_fail(VKQ_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    if (status == VKQ_OK && rename(tmp, path) != 0)
        status = vkq_fail(VKQ_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (status != VKQ_OK)
        remove(tmp);
    return status == VKQ_OK ? vkq_sync_parent_dir(path) : status;
}

vkq_status vkq_write_atomic(const char *path, vkq_file_writer write, void *user)
{
    char *tmp = temporary_path(path);
    if (!tmp)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", path);
    vkq_status status = write_and_rename(path, tmp, write, user);
    free(tmp);
    return status;
}

vkq_status vkq_make_dirs(const char *path)
{
    if (path[0] == '\0')
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "cannot create a directory with an empty name");
    char *buf = strdup(path);
    if (!buf)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", path);
    vkq_status s = VKQ_OK;
    for (char *p = buf + 1; s == VKQ_OK; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            s = vkq_fail(VKQ_ERR_IO, "%s: cannot create the directory: %s", buf, strerror(errno));
        *p = c;
        if (c == '\0')
            break;
    }
    free(buf);
    return s;
}

static vkq_status write_mapped(const char *path, FILE *f, void *user)
{
    const vkq_mapped_file *m = user;
    return m->size ? vkq_write_bytes(path, f, m->data, 1, m->size) : VKQ_OK;
}

vkq_status vkq_copy_file(const char *from, const char *to)
{
    vkq_mapped_file m;
    VKQ_TRY(vkq_map_file(from, &m));
    vkq_status s = vkq_write_atomic(to, write_mapped, &m);
    vkq_unmap_file(&m);
    return s;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *at)
{
    (void)st;
    (void)at;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

vkq_status vkq_remove_tree(const char *path)
{
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return VKQ_OK;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    return VKQ_OK;
}

vkq_status vkq_remove_flat_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? VKQ_OK
                               : vkq_fail(VKQ_ERR_IO, "%s: cannot open the directory: %s", path,
                                          strerror(errno));
    vkq_status s = VKQ_OK;
    struct dirent *e;
    while (s == VKQ_OK && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *file = malloc(strlen(path) + strlen(e->d_name) + 2);
        if (!file) {
            s = vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", path);
            break;
        }
        sprintf(file, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(file, &st) == 0 && S_ISDIR(st.st_mode))
            s = vkq_fail(VKQ_ERR_IO, "%s: holds a directory, not removing it", path);
        else if (unlink(file) != 0)
            s = vkq_fail(VKQ_ERR_IO, "%s: cannot remove: %s", file, strerror(errno));
        free(file);
    }
    closedir(d);
    if (s == VKQ_OK && rmdir(path) != 0)
        s = vkq_fail(VKQ_ERR_IO, "%s: cannot remove the directory: %s", path, strerror(errno));
    return s;
}

vkq_status vkq_replace_dir(const char *tmp, const char *path)
{
    char *old = malloc(strlen(path) + sizeof ".old");
    if (!old)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", path);
    sprintf(old, "%s.old", path);
    vkq_status s = vkq_remove_flat_dir(old);
    int had = s == VKQ_OK && access(path, F_OK) == 0;
    if (had && rename(path, old) != 0)
        s = vkq_fail(VKQ_ERR_IO, "cannot move %s aside: %s", path, strerror(errno));
    if (s == VKQ_OK && rename(tmp, path) != 0) {
        s = vkq_fail(VKQ_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        if (had)
            rename(old, path);
    }
    if (s == VKQ_OK)
        s = vkq_sync_parent_dir(path);
    if (s == VKQ_OK && had)
        s = vkq_remove_flat_dir(old);
    free(old);
    return s;
}

static vkq_status check_replaceable(const char *path, const char *marker, const char *what)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return VKQ_OK;
    char *inside = malloc(strlen(path) + strlen(marker) + 2);
    if (!inside)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", path);
    sprintf(inside, "%s/%s", path, marker);
    int replaceable = S_ISDIR(st.st_mode) && access(inside, F_OK) == 0;
    free(inside);
    if (!replaceable)
        return vkq_fail(VKQ_ERR_IO, "%s: exists and is not %s; not replacing it", path, what);
    return VKQ_OK;
}

vkq_status vkq_write_dir_atomic(const char *path, const char *marker, const char *what,
                                vkq_dir_writer write, void *user)
{
    VKQ_TRY(check_replaceable(path, marker, what));
    char *tmp = malloc(strlen(path) + sizeof ".tmp");
    if (!tmp)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", path);
    sprintf(tmp, "%s.tmp", path);
    vkq_status s = vkq_remove_flat_dir(tmp);
    if (s == VKQ_OK)
        s = vkq_make_dirs(tmp);
    if (s == VKQ_OK)
        s = write(tmp, user);
    if (s == VKQ_OK)
        s = vkq_replace_dir(tmp, path);
    if (s != VKQ_OK) {
        vkq_saved_error e = vkq_error_save(s);
        vkq_remove_flat_dir(tmp);
        s = vkq_error_restore(&e);
    }
    free(tmp);
    return s;
}
