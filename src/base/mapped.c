#include "base/mapped.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

vkq_status vkq_map_file(const char *path, vkq_mapped_file *out)
{
    *out = (vkq_mapped_file){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    vkq_status s = VKQ_OK;
    if (fstat(fd, &st) != 0)
        s = vkq_fail(VKQ_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        s = vkq_fail(VKQ_ERR_IO, "%s: not a regular file", path);
    else if ((uintmax_t)st.st_size > SIZE_MAX)
        s = vkq_fail(VKQ_ERR_IO, "%s: too large to map", path);
    if (s == VKQ_OK && st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
            s = vkq_fail(VKQ_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        else
            *out = (vkq_mapped_file){p, (size_t)st.st_size};
    }
    close(fd);
    return s;
}

void vkq_unmap_file(vkq_mapped_file *m)
{
    if (m->data)
        munmap((void *)m->data, m->size);
    *m = (vkq_mapped_file){0};
}
