/* Hugging Face model directories that must not load: each gives one line naming the file and
 * what is wrong (and the tensor or field), and nothing is half-loaded. Built from the committed
 * Llama 3 golden directory with one thing changed. Also: generation_config.json's end ids
 * replace config.json's, and the writer refuses to replace a directory that is not a model. */
#define _XOPEN_SOURCE 700
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"
#include "vkquill/hf_model.h"
#include "vkquill/model_file.h"

#define GOLDEN VKQ_SOURCE_DIR "/tests/golden/hf/llama3/"

static char dir[TEST_DIR_SIZE];

static int make_dir(void **state)
{
    (void)state;
    return test_make_temp_dir(dir, "hf-model");
}

static int remove_dir(void **state)
{
    (void)state;
    return test_remove_tree(dir);
}

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s", test_path(dir, name));
}

static void write_text(const char *name, const char *text)
{
    test_write_text(test_path(dir, name), text);
}

static char *read_golden(const char *name, size_t *size)
{
    char *bytes = test_read_file(name, size);
    assert_non_null(bytes);
    return bytes;
}

/* The golden config.json with one text replaced (or as it is when from is NULL). */
static void write_config(const char *from, const char *to)
{
    size_t size;
    char *text = read_golden(GOLDEN "config.json", &size);
    if (from) {
        char *at = strstr(text, from);
        assert_non_null(at);
        char *edited = malloc(size + strlen(to) + 1);
        assert_non_null(edited);
        sprintf(edited, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
        free(text);
        text = edited;
    }
    write_text("config.json", text);
    free(text);
}

typedef enum change { AS_IS, DROP, EXTRA, RESHAPE, RETYPE } change;

/* The golden tensors, with `name` dropped, reshaped or retyped, or an extra tensor of that
 * name added; into model.safetensors, or shards of at most shard_bytes when that is non-zero. */
static void write_tensors(change what, const char *name, uint64_t shard_bytes)
{
    vkq_st_file *f;
    OK(vkq_st_open(GOLDEN "model.safetensors", &f));
    size_t n = vkq_st_count(f), k = 0;
    vkq_st_write_tensor *w = calloc(n + 1, sizeof *w);
    assert_non_null(w);
    for (size_t i = 0; i < n; i++) {
        const vkq_st_tensor *t = vkq_st_at(f, i);
        int named = strcmp(t->name, name) == 0;
        if (named && what == DROP)
            continue;
        w[k] = (vkq_st_write_tensor){.name = t->name, .dtype = t->dtype, .rank = t->rank,
                                     .data = t->data};
        memcpy(w[k].shape, t->shape, sizeof t->shape);
        if (named && what == RESHAPE) {
            w[k].shape[0] = t->shape[1];
            w[k].shape[1] = t->shape[0];
        }
        if (named && what == RETYPE)
            w[k].dtype = VKQ_ST_I32; /* the same width: the bytes still cover it */
        if (what == EXTRA && i == 0) {
            w[++k] = w[0];
            w[k].name = name;
        }
        k++;
    }
    char path[256];
    path_in(path, sizeof path, "model.safetensors");
    OK(shard_bytes ? vkq_st_write_model(dir, w, k, NULL, 0, shard_bytes)
                   : vkq_st_write_file(path, w, k, NULL, 0));
    free(w);
    vkq_st_close(f);
}

/* Opening fails with one line holding every one of the wanted texts. */
static void refused(const char *want1, const char *want2)
{
    vkq_model_file *m = (vkq_model_file *)&m;
    vkq_status s = vkq_model_file_open(dir, &m);
    assert_int_not_equal(s, VKQ_OK);
    assert_null(m);
    const char *msg = vkq_last_error();
    print_message("%s\n", msg);
    assert_null(strchr(msg, '\n'));
    assert_non_null(strstr(msg, want1));
    assert_non_null(strstr(msg, want2));
}

static void golden_copy_loads(void **state)
{
    (void)state;
    write_config(NULL, NULL);
    write_tensors(AS_IS, "", 0);
    vkq_model_file *m;
    OK(vkq_model_file_open(dir, &m));
    assert_true(vkq_model_file_is_hf(m));
    assert_int_equal(vkq_model_file_config(m)->n_eos, 2);
    vkq_model_file_close(m);
}

static void sharded_copy_loads(void **state)
{
    (void)state;
    write_config(NULL, NULL);
    write_tensors(AS_IS, "", 4096);
    vkq_model_file *m;
    OK(vkq_model_file_open(dir, &m));
    assert_int_equal(vkq_model_file_dtype(m), VKQ_ST_F32);
    vkq_model_file_close(m);
}

static void missing_config(void **state)
{
    (void)state;
    write_tensors(AS_IS, "", 0);
    refused("config.json", "cannot open");
}

static void bad_field(void **state)
{
    (void)state;
    write_tensors(AS_IS, "", 0);
    write_config("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"");
    refused("config.json: field \"hidden_act\" is \"gelu\"", "only \"silu\"");
}

static void output_bias_refused(void **state)
{
    (void)state;
    write_tensors(AS_IS, "", 0);
    write_config("\"attention_bias\": false", "\"attention_bias\": true");
    refused("config.json: field \"attention_bias\" is true", "o_proj");
}

static void missing_tensor(void **state)
{
    (void)state;
    write_config(NULL, NULL);
    write_tensors(DROP, "model.layers.1.mlp.up_proj.weight", 0);
    refused("tensor \"model.layers.1.mlp.up_proj.weight\"", "not in the model");
}

static void unexpected_tensor(void **state)
{
    (void)state;
    write_config(NULL, NULL);
    write_tensors(EXTRA, "model.layers.0.mlp.extra.weight", 0);
    refused("model.safetensors: tensor \"model.layers.0.mlp.extra.weight\"", "unexpected");
}

static void classifier_of_a_tied_model(void **state)
{
    (void)state;
    write_config(NULL, NULL);
    write_tensors(EXTRA, "lm_head.weight", 0);
    refused("tensor \"lm_head.weight\": unexpected", "tie_word_embeddings is true");
}

static void wrong_shape(void **state)
{
    (void)state;
    write_config(NULL, NULL);
    write_tensors(RESHAPE, "model.layers.0.self_attn.k_proj.weight", 0);
    refused("model.safetensors: tensor \"model.layers.0.self_attn.k_proj.weight\"",
            "shape [16, 8], config.json implies [8, 16]");
}

static void wrong_dtype(void **state)
{
    (void)state;
    write_config(NULL, NULL);
    write_tensors(RETYPE, "model.norm.weight", 0);
    refused("model.safetensors: tensor \"model.norm.weight\"",
            "dtype I32, expected F32, F16 or BF16");
}

static void truncated_file(void **state)
{
    (void)state;
    write_config(NULL, NULL);
    size_t size;
    char *bytes = read_golden(GOLDEN "model.safetensors", &size), path[256];
    path_in(path, sizeof path, "model.safetensors");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, size - 12, f), size - 12);
    fclose(f);
    free(bytes);
    refused("model.safetensors", "model.safetensors");
}

static void missing_shard(void **state)
{
    (void)state;
    write_config(NULL, NULL);
    write_tensors(AS_IS, "", 4096);
    char path[256];
    glob_t shards;
    path_in(path, sizeof path, "model-00002-of-*.safetensors");
    assert_int_equal(glob(path, 0, NULL, &shards), 0);
    assert_int_equal(shards.gl_pathc, 1);
    assert_int_equal(unlink(shards.gl_pathv[0]), 0);
    refused(strrchr(shards.gl_pathv[0], '/') + 1, "cannot open");
    globfree(&shards);
}

static void generation_config_eos(void **state)
{
    (void)state;
    write_config(NULL, NULL);
    write_tensors(AS_IS, "", 0);
    write_text("generation_config.json", "{\"bos_token_id\": 1, \"eos_token_id\": [5, 9, 11]}");
    vkq_model_file *m;
    OK(vkq_model_file_open(dir, &m));
    const vkq_llama_config *c = vkq_model_file_config(m);
    assert_int_equal(c->n_eos, 3);
    assert_int_equal(c->eos_ids[0], 5);
    assert_int_equal(c->eos_ids[2], 11);
    assert_true(vkq_llama_is_eos(c, 9) && !vkq_llama_is_eos(c, 2));
    vkq_model_file_close(m);
    write_text("generation_config.json", "{\"eos_token_id\": \"end\"}");
    refused("generation_config.json: field \"eos_token_id\" is \"end\"", "must be an integer");
}

/* A directory that is not a model is never replaced; a model directory is, completely. */
static void writer_replaces_only_models(void **state)
{
    (void)state;
    write_config(NULL, NULL);
    write_tensors(AS_IS, "", 0);
    vkq_model_file *m;
    OK(vkq_model_file_open(dir, &m));
    const vkq_llama_config *c = vkq_model_file_config(m);
    vkq_tensor_source w = vkq_model_file_weights(m);
    float *params;
    OK(vkq_tensor_source_read_all(c, &w, &params));
    char other[256], out[256];
    path_in(other, sizeof other, "notes");
    assert_int_equal(mkdir(other, 0755), 0);
    assert_int_not_equal(vkq_hf_model_write(other, c, params, VKQ_ST_BF16, dir), VKQ_OK);
    assert_non_null(strstr(vkq_last_error(), "not a model directory"));
    path_in(out, sizeof out, "out");
    OK(vkq_hf_model_write(out, c, params, VKQ_ST_F32, dir));
    OK(vkq_hf_model_write(out, c, params, VKQ_ST_BF16, dir));
    vkq_model_file *back;
    OK(vkq_model_file_open(out, &back));
    assert_int_equal(vkq_model_file_dtype(back), VKQ_ST_BF16);
    vkq_model_file_close(back);
    path_in(out, sizeof out, "out.tmp");
    assert_int_not_equal(access(out, F_OK), 0);
    path_in(out, sizeof out, "out.old");
    assert_int_not_equal(access(out, F_OK), 0);
    free(params);
    vkq_model_file_close(m);
}

int main(void)
{
#define CASE(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)
    const struct CMUnitTest tests[] = {
        CASE(golden_copy_loads),    CASE(sharded_copy_loads),  CASE(missing_config),      CASE(bad_field),
        CASE(output_bias_refused),  CASE(missing_tensor),      CASE(unexpected_tensor),
        CASE(classifier_of_a_tied_model), CASE(wrong_shape),   CASE(wrong_dtype),
        CASE(truncated_file),       CASE(missing_shard),       CASE(generation_config_eos),
        CASE(writer_replaces_only_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
