#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

vkq_status vkq_remove_temporary(const char *path)
{
    char *tmp = temporary_path(path);
    if (!tmp)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", path);
    vkq_status s = VKQ_OK;
    if (remove(tmp) != 0 && errno != ENOENT)
        s = vkq_fail(VKQ_ERR_IO, "%s: cannot remove a leftover file: %s", tmp, strerror(errno));
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

/* Makes a rename in path's directory durable. */
static vkq_status sync_directory(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir] = '\0'; /* "/x" -> "/" */
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
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
    return status == VKQ_OK ? sync_directory(path) : status;
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
