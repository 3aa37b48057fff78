#define _GNU_SOURCE /* memfd_create */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static int fds[FUZZ_FILES];
static char paths[FUZZ_FILES][32];

const char *fuzz_file(unsigned slot, const uint8_t *data, size_t size)
{
    if (!fds[slot]) {
        fds[slot] = memfd_create("vkq-fuzz", 0);
        if (fds[slot] < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(paths[slot], sizeof paths[slot], "/proc/self/fd/%d", fds[slot]);
    }
    if (ftruncate(fds[slot], 0) != 0 ||
        (size && pwrite(fds[slot], data, size, 0) != (ssize_t)size)) {
        perror("writing the fuzz input");
        abort();
    }
    return paths[slot];
}
