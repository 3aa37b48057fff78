#include "base/file.h"

#include <errno.h>
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

vkq_status vkq_write_atomic(const char *path, vkq_file_writer write, void *user)
{
    size_t length = strlen(path);
    char *tmp = malloc(length + sizeof ".tmp");
    if (!tmp)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", path);
    memcpy(tmp, path, length);
    memcpy(tmp + length, ".tmp", sizeof ".tmp");
    vkq_status status = VKQ_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        status = vkq_fail(VKQ_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    } else {
        status = write(tmp, f, user);
        if (status == VKQ_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
            status = vkq_fail(VKQ_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
        if (fclose(f) != 0 && status == VKQ_OK)
            status = vkq_fail(VKQ_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
        if (status == VKQ_OK && rename(tmp, path) != 0)
            status = vkq_fail(VKQ_ERR_IO, "cannot rename %s to %s: %s", tmp, path,
                              strerror(errno));
        if (status != VKQ_OK)
            remove(tmp);
    }
    free(tmp);
    return status;
}

vkq_status vkq_make_dirs(const char *path)
{
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
