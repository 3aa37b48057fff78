#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"

#include "base/file.h"
#include "vkquill/llama2c.h"

int test_have_file(const char *path)
{
    if (access(path, R_OK) == 0)
        return 1;
    printf("skipped: %s is absent\n", path);
    return 0;
}

int test_make_temp_dir(char *dir, const char *tag)
{
    int n = snprintf(dir, TEST_DIR_SIZE, "/tmp/vkq-%s-XXXXXX", tag);
    return n < TEST_DIR_SIZE && mkdtemp(dir) ? 0 : -1;
}

int test_remove_tree(const char *dir)
{
    return vkq_remove_tree(dir) == VKQ_OK ? 0 : -1;
}

const char *test_path(const char *dir, const char *name)
{
    static char buffers[8][1024];
    static unsigned next;
    char *path = buffers[next++ % 8];
    snprintf(path, sizeof buffers[0], "%s/%s", dir, name);
    return path;
}

int test_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

int test_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

char *test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)n + 1)) &&
        fread(data, 1, (size_t)n, f) == (size_t)n) {
        data[n] = '\0';
        if (size)
            *size = (size_t)n;
    } else {
        free(data);
        data = NULL;
    }
    fclose(f);
    return data;
}

const char *test_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot create %s", path);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
    return path;
}

const char *test_write_text(const char *path, const char *text)
{
    return test_write_file(path, text, strlen(text));
}

int test_ctx_create(vkq_ctx **ctx)
{
    if (vkq_ctx_create(NULL, ctx) == VKQ_OK)
        return 0;
    print_error("%s\n", vkq_last_error());
    return -1;
}

int test_ctx_destroy(vkq_ctx *ctx)
{
    return vkq_ctx_destroy(ctx) == VKQ_OK ? 0 : -1;
}

int test_run_vkquill(const char *format, ...)
{
    char args[4096], command[4096 + sizeof VKQ_BINARY + 1];
    va_list ap;
    va_start(ap, format);
    vsnprintf(args, sizeof args, format, ap);
    va_end(ap);
    snprintf(command, sizeof command, "%s %s", VKQ_BINARY, args);
    int status = system(command);
    return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

vkq_status test_write_random_llama2c(const char *path, const vkq_llama_config *c, uint64_t seed)
{
    vkq_llama_tensors l;
    vkq_llama_tensors_of(c, &l);
    float *params = malloc(l.total * sizeof *params);
    if (!params)
        return VKQ_ERR_OUT_OF_MEMORY;
    vkq_llama_init_random(c, seed, params);
    vkq_status s = vkq_llama2c_write(path, c, params);
    free(params);
    return s;
}
