/* What the test programs share: skipping, temporary directories, whole files, the Vulkan
 * context of a cmocka group, and running the vkquill binary. */
#ifndef VKQ_TESTS_SUPPORT_H
#define VKQ_TESTS_SUPPORT_H

#include <stddef.h>

#include "vkquill/llama.h"
#include "vkquill/runtime.h"

/* The exit code ctest reads as "skipped" (SKIP_RETURN_CODE): a test that cannot run. */
enum { TEST_SKIPPED = 77, TEST_DIR_SIZE = 64 };

/* In a cmocka test: fails it, naming the call and the library's message, unless expr is OK. */
#define OK(expr)                                             \
    do {                                                     \
        vkq_status s_ = (expr);                              \
        if (s_ != VKQ_OK)                                    \
            fail_msg("%s: %s", #expr, vkq_last_error());     \
    } while (0)

/* 1 when path is readable; otherwise prints "skipped: PATH is absent" and returns 0. */
int test_have_file(const char *path);

/* A new directory /tmp/vkq-TAG-XXXXXX, its path in dir (TEST_DIR_SIZE bytes): 0 on success
 * (-1 also when a long TAG does not fit). */
int test_make_temp_dir(char *dir, const char *tag);
/* Removes dir and everything below it: 0 on success. */
int test_remove_tree(const char *dir);
/* DIR/NAME, in one of a few rotating buffers that later calls reuse. */
const char *test_path(const char *dir, const char *name);
/* The entries of dir besides . and .., or -1 when it cannot be read. */
int test_count_entries(const char *dir);
int test_file_exists(const char *path);

/* The whole file, malloc'ed, with a NUL after its last byte (*size, when asked, excludes it);
 * NULL when it cannot be read. */
char *test_read_file(const char *path, size_t *size);
/* In a cmocka test: writes the file or fails the test; returns path. */
const char *test_write_file(const char *path, const void *data, size_t size);
const char *test_write_text(const char *path, const char *text);

/* cmocka group fixtures' halves: a context on the default device, 0 on success (a failure's
 * message is printed). */
int test_ctx_create(vkq_ctx **ctx);
int test_ctx_destroy(vkq_ctx *ctx);

/* Runs `VKQUILL ARGS` through the shell (ARGS formatted as printf does, redirections allowed)
 * with the binary built beside the tests; its exit status, or -1 when it did not exit. */
int test_run_vkquill(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* A llama2.c checkpoint at path with the random weights vkq_llama_init_random draws for seed. */
vkq_status test_write_random_llama2c(const char *path, const vkq_llama_config *c,
                                     uint64_t seed);

#endif
