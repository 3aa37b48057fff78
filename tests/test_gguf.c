/* vkquill export gguf: every case of tests/data/gguf_expected.json (written by
 * tools/check_gguf.mjs from the converter's rules and checked there with @huggingface/gguf)
 * compared field by field with the file written now; every tensor's data against its
 * safetensors source; and every kind of bad input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "support.h"
#include "vkquill/gguf.h"
#include "vkquill/safetensors.h"

#define SOURCE(path) VKQ_SOURCE_DIR "/" path

static char *read_all(const char *path, size_t *size)
{
    char *data = test_read_file(path, size);
    assert_non_null(data);
    return data;
}

static void copy_file(const char *from_dir, const char *name, const char *to_dir)
{
    char from[512], to[512];
    snprintf(from, sizeof from, "%s/%s", from_dir, name);
    snprintf(to, sizeof to, "%s/%s", to_dir, name);
    size_t n;
    char *data = read_all(from, &n);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    free(data);
}

/* A model directory named `name` inside a fresh temporary directory. */
typedef struct model_dir {
    char root[TEST_DIR_SIZE], dir[160], out[192];
} model_dir;

static void make_model_dir(model_dir *m, const char *name, const char *golden, const char *tok)
{
    assert_int_equal(test_make_temp_dir(m->root, "gguf"), 0);
    snprintf(m->dir, sizeof m->dir, "%s/%s", m->root, name);
    snprintf(m->out, sizeof m->out, "%s/out.gguf", m->root);
    assert_int_equal(mkdir(m->dir, 0755), 0);
    char from[256];
    snprintf(from, sizeof from, "%s/%s", SOURCE("tests/golden/hf"), golden);
    copy_file(from, "config.json", m->dir);
    copy_file(from, "model.safetensors", m->dir);
    if (!tok)
        return;
    snprintf(from, sizeof from, "%s/%s", SOURCE("tests/data/gguf"), tok);
    copy_file(from, "tokenizer.json", m->dir);
    copy_file(from, "tokenizer_config.json", m->dir);
}

static void remove_model_dir(const model_dir *m)
{
    test_remove_tree(m->root);
}

/* A GGUF reader of its own, for the test. */
typedef struct reader {
    const unsigned char *data;
    size_t size, at;
} reader;

static uint64_t take(reader *r, int bytes)
{
    assert_true(r->at + (size_t)bytes <= r->size);
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)r->data[r->at + (size_t)i] << 8 * i;
    r->at += (size_t)bytes;
    return v;
}

static void read_expected_string(reader *r, const char *want, const char *what)
{
    uint64_t n = take(r, 8);
    assert_true(r->at + n <= r->size);
    if (n != strlen(want) || memcmp(r->data + r->at, want, n) != 0)
        fail_msg("%s: \"%.*s\", want \"%s\"", what, (int)n, (const char *)r->data + r->at, want);
    r->at += n;
}

static float bits_f32(uint64_t bits)
{
    uint32_t b = (uint32_t)bits;
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static void read_expected_value(reader *r, int type, const cJSON *want, const char *key)
{
    switch (type) {
    case 4:
        assert_int_equal(take(r, 4), (uint64_t)want->valuedouble);
        break;
    case 5:
        assert_int_equal((int32_t)take(r, 4), (int32_t)want->valuedouble);
        break;
    case 6:
        if (bits_f32(take(r, 4)) != (float)want->valuedouble)
            fail_msg("%s: float differs from %g", key, want->valuedouble);
        break;
    case 7:
        assert_int_equal(take(r, 1), cJSON_IsTrue(want));
        break;
    case 8:
        read_expected_string(r, want->valuestring, key);
        break;
    default:
        fail_msg("%s: unexpected type %d", key, type);
    }
}

static void read_expected_pair(reader *r, const cJSON *want)
{
    const char *key = cJSON_GetObjectItem(want, "key")->valuestring;
    int type = (int)cJSON_GetObjectItem(want, "type")->valuedouble;
    const cJSON *value = cJSON_GetObjectItem(want, "value"), *item;
    read_expected_string(r, key, "key");
    assert_int_equal(take(r, 4), (uint64_t)type);
    if (type != 9) {
        read_expected_value(r, type, value, key);
        return;
    }
    int sub = (int)cJSON_GetObjectItem(want, "subType")->valuedouble;
    assert_int_equal(take(r, 4), (uint64_t)sub);
    assert_int_equal(take(r, 8), (uint64_t)cJSON_GetArraySize(value));
    cJSON_ArrayForEach(item, value)
    {
        read_expected_value(r, sub, item, key);
    }
}

typedef struct tensor_seen {
    const char *name;
    uint64_t dims[4];
    int n_dims, type;
    uint64_t offset;
} tensor_seen;

static void read_expected_tensor_info(reader *r, const cJSON *want, tensor_seen *seen)
{
    seen->name = cJSON_GetObjectItem(want, "name")->valuestring;
    read_expected_string(r, seen->name, "tensor name");
    const cJSON *dims = cJSON_GetObjectItem(want, "dims");
    seen->n_dims = cJSON_GetArraySize(dims);
    assert_int_equal(take(r, 4), (uint64_t)seen->n_dims);
    for (int d = 0; d < seen->n_dims; d++) {
        seen->dims[d] = take(r, 8);
        assert_int_equal(seen->dims[d], (uint64_t)cJSON_GetArrayItem(dims, d)->valuedouble);
    }
    seen->type = (int)take(r, 4);
    assert_int_equal(seen->type, (int)cJSON_GetObjectItem(want, "type")->valuedouble);
    seen->offset = take(r, 8);
    assert_int_equal(seen->offset, (uint64_t)cJSON_GetObjectItem(want, "offset")->valuedouble);
}

/* The Hugging Face name of a GGUF tensor, and whether its rows move from halves to pairs
 * (the converter's reshape(heads, 2, half, cols).swapaxes(1, 2)). */
static const char *hf_name(const char *gguf, char *buf, size_t size)
{
    static const char *const map[][2] = {
        {"attn_norm.weight", "input_layernorm.weight"}, {"attn_q.weight", "self_attn.q_proj.weight"},
        {"attn_k.weight", "self_attn.k_proj.weight"}, {"attn_v.weight", "self_attn.v_proj.weight"},
        {"attn_q.bias", "self_attn.q_proj.bias"}, {"attn_k.bias", "self_attn.k_proj.bias"},
        {"attn_v.bias", "self_attn.v_proj.bias"}, {"attn_q_norm.weight", "self_attn.q_norm.weight"},
        {"attn_k_norm.weight", "self_attn.k_norm.weight"},
        {"attn_output.weight", "self_attn.o_proj.weight"},
        {"ffn_norm.weight", "post_attention_layernorm.weight"},
        {"ffn_gate.weight", "mlp.gate_proj.weight"}, {"ffn_up.weight", "mlp.up_proj.weight"},
        {"ffn_down.weight", "mlp.down_proj.weight"}};
    if (strcmp(gguf, "token_embd.weight") == 0)
        return "model.embed_tokens.weight";
    if (strcmp(gguf, "output_norm.weight") == 0)
        return "model.norm.weight";
    if (strcmp(gguf, "output.weight") == 0)
        return "lm_head.weight";
    unsigned layer;
    int n = 0;
    assert_int_equal(sscanf(gguf, "blk.%u.%n", &layer, &n), 1);
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(gguf + n, map[i][0]) == 0) {
            snprintf(buf, size, "model.layers.%u.%s", layer, map[i][1]);
            return buf;
        }
    fail_msg("unexpected tensor %s", gguf);
    return NULL;
}

static uint16_t half_of(float x, int type)
{
    return type == VKQ_GGUF_F16 ? vkq_f32_to_f16(x) : vkq_f32_to_bf16(x);
}

/* Every element of one tensor against the source (rope_freqs is checked by
 * tools/check_gguf_data.py against transformers' scaling). */
static void check_data(const vkq_st_model *m, const tensor_seen *t, const unsigned char *data,
                        uint32_t heads)
{
    if (strcmp(t->name, "rope_freqs.weight") == 0)
        return;
    char buf[128];
    const vkq_st_tensor *st;
    assert_int_equal(vkq_st_model_get(m, hf_name(t->name, buf, sizeof buf), &st), VKQ_OK);
    uint64_t cols = t->dims[0], rows = t->n_dims == 2 ? t->dims[1] : 1;
    if (t->n_dims == 1)
        cols = t->dims[0], rows = 1;
    int pairs = heads && (strstr(t->name, "attn_q.") || strstr(t->name, "attn_k."));
    uint64_t n_rows = t->n_dims == 2 ? rows : cols, row_len = t->n_dims == 2 ? cols : 1;
    uint64_t head_rows = pairs ? n_rows / heads : 1, half = head_rows / 2;
    for (uint64_t r = 0; r < n_rows; r++) {
        uint64_t h = r / head_rows, b = (r % head_rows) / 2, a = r % 2;
        uint64_t src = pairs ? h * head_rows + a * half + b : r;
        for (uint64_t c = 0; c < row_len; c++) {
            float want;
            assert_int_equal(vkq_st_to_f32(st, src * row_len + c, 1, &want), VKQ_OK);
            uint64_t at = r * row_len + c;
            if (t->type == VKQ_GGUF_F32) {
                float got;
                memcpy(&got, data + 4 * at, 4);
                if (memcmp(&got, &want, 4) != 0)
                    fail_msg("%s[%llu]: %g, want %g", t->name, (unsigned long long)at, got, want);
            } else {
                uint16_t got = (uint16_t)(data[2 * at] | data[2 * at + 1] << 8);
                assert_int_equal(got, half_of(want, t->type));
            }
        }
    }
}

static void check_case(const cJSON *c)
{
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const cJSON *type = cJSON_GetObjectItem(c, "type"), *item;
    model_dir m;
    make_model_dir(&m, name, cJSON_GetObjectItem(c, "golden")->valuestring,
                   cJSON_GetObjectItem(c, "tokenizer")->valuestring);
    vkq_gguf_export_options options = {.type_given = cJSON_IsString(type)};
    if (options.type_given)
        assert_int_equal(vkq_gguf_type_parse(type->valuestring, &options.type), VKQ_OK);
    if (vkq_gguf_export(m.dir, m.out, &options) != VKQ_OK)
        fail_msg("%s: %s", name, vkq_last_error());
    size_t size;
    char *file = read_all(m.out, &size);
    reader r = {(const unsigned char *)file, size, 0};
    const cJSON *header = cJSON_GetObjectItem(c, "header");
    assert_memory_equal(file, "GGUF", 4);
    r.at = 4;
    assert_int_equal(take(&r, 4), 3);
    assert_int_equal(take(&r, 8), (uint64_t)cJSON_GetObjectItem(header, "tensor_count")->valuedouble);
    assert_int_equal(take(&r, 8), (uint64_t)cJSON_GetObjectItem(header, "kv_count")->valuedouble);
    cJSON_ArrayForEach(item, cJSON_GetObjectItem(c, "kv"))
    {
        read_expected_pair(&r, item);
    }
    const cJSON *tensors = cJSON_GetObjectItem(c, "tensors");
    int n = cJSON_GetArraySize(tensors);
    tensor_seen *seen = calloc((size_t)n, sizeof *seen);
    for (int i = 0; i < n; i++)
        read_expected_tensor_info(&r, cJSON_GetArrayItem(tensors, i), &seen[i]);
    size_t start = (r.at + VKQ_GGUF_ALIGNMENT - 1) / VKQ_GGUF_ALIGNMENT * VKQ_GGUF_ALIGNMENT;
    for (size_t i = r.at; i < start; i++)
        assert_int_equal(file[i], 0);
    vkq_st_model *st;
    assert_int_equal(vkq_st_model_open(m.dir, &st), VKQ_OK);
    char config_path[256];
    snprintf(config_path, sizeof config_path, "%s/config.json", m.dir);
    char *config_text = read_all(config_path, NULL);
    cJSON *config = cJSON_Parse(config_text);
    const char *model_type = cJSON_GetObjectItem(config, "model_type")->valuestring;
    int llama = strcmp(model_type, "llama") == 0 || strcmp(model_type, "mistral") == 0;
    uint32_t q_heads = (uint32_t)cJSON_GetObjectItem(config, "num_attention_heads")->valuedouble;
    uint32_t kv_heads = (uint32_t)cJSON_GetObjectItem(config, "num_key_value_heads")->valuedouble;
    for (int i = 0; i < n; i++) {
        uint32_t heads = !llama ? 0 : strstr(seen[i].name, "attn_q.") ? q_heads : kv_heads;
        check_data(st, &seen[i], (const unsigned char *)file + start + seen[i].offset, heads);
    }
    uint64_t last = seen[n - 1].offset, bytes = seen[n - 1].type == VKQ_GGUF_F32 ? 4 : 2;
    for (int d = 0; d < seen[n - 1].n_dims; d++)
        bytes *= seen[n - 1].dims[d];
    assert_int_equal(size, start + (last + bytes + 31) / 32 * 32);
    vkq_st_model_close(st);
    cJSON_Delete(config);
    free(config_text);
    free(seen);
    free(file);
    remove_model_dir(&m);
}

static void test_expected_cases(void **state)
{
    (void)state;
    char *text = read_all(SOURCE("tests/data/gguf_expected.json"), NULL);
    cJSON *doc = cJSON_Parse(text);
    assert_non_null(doc);
    const cJSON *c;
    int count = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases"))
    {
        check_case(c);
        count++;
    }
    assert_int_equal(count, 12);
    cJSON_Delete(doc);
    free(text);
}

/* Writes text to dir/name. */
static void put_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The export fails with a message holding `want` and leaves neither file nor temporary. */
static void expect_refused(const model_dir *m, const char *out, const char *want)
{
    vkq_gguf_export_options options = {0};
    if (vkq_gguf_export(m->dir, out, &options) == VKQ_OK)
        fail_msg("the export succeeded; want a failure with \"%s\"", want);
    if (!strstr(vkq_last_error(), want))
        fail_msg("message \"%s\" lacks \"%s\"", vkq_last_error(), want);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    assert_int_not_equal(access(out, F_OK), 0);
    assert_int_not_equal(access(tmp, F_OK), 0);
}

static void test_bad_input(void **state)
{
    (void)state;
    model_dir m;
    make_model_dir(&m, "bad", "qwen3", "qwen");
    char out[256];
    snprintf(out, sizeof out, "%s/no/such/dir/m.gguf", m.root);
    expect_refused(&m, out, "no/such/dir/m.gguf.tmp: cannot create");
    put_file(m.dir, "tokenizer_config.json", "{\"chat_template\": 7}");
    expect_refused(&m, m.out, "chat_template must be a string");
    put_file(m.dir, "tokenizer.json", "{\"model\": {\"type\": \"Unigram\", \"merges\": []}}");
    expect_refused(&m, m.out, "model type \"Unigram\" is not supported");
    put_file(m.dir, "tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 40}, "
             "\"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}");
    expect_refused(&m, m.out, "below config.json's vocab_size 40");
    put_file(m.dir, "tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, "
             "\"merges\": []}, \"pre_tokenizer\": {\"type\": \"Whitespace\"}}");
    expect_refused(&m, m.out, "neither byte-level BPE nor SentencePiece-style");
    put_file(m.dir, "tokenizer.json", "{\"model\": 1}");
    expect_refused(&m, m.out, "\"model\" must be an object");
    put_file(m.dir, "tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, "
             "\"merges\": [\"a\"]}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}");
    expect_refused(&m, m.out, "model.merges[0] is not two tokens");
    put_file(m.dir, "tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, "
             "\"merges\": []}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": "
             "{\"Regex\": \"x\"}}, \"byte_fallback\": false}");
    expect_refused(&m, m.out, "neither byte-level");
    put_file(m.dir, "tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, "
             "\"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": false}}");
    expect_refused(&m, m.out, "not one llama.cpp knows by name");
    put_file(m.dir, "tokenizer.json", "{\"model\": ");
    expect_refused(&m, m.out, "tokenizer.json");
    char path[256];
    snprintf(path, sizeof path, "%s/tokenizer.json", m.dir);
    unlink(path);
    expect_refused(&m, m.out, "no tokenizer.json");
    put_file(m.dir, "config.json", "{\"model_type\": \"gpt2\"}");
    expect_refused(&m, m.out, "config.json");
    remove_model_dir(&m);
    make_model_dir(&m, "shapes", "qwen3", "qwen");
    put_file(m.dir, "config.json", "{\"architectures\": [\"Qwen3ForCausalLM\"], \"model_type\": "
             "\"qwen3\", \"hidden_size\": 16, \"intermediate_size\": 20, \"num_hidden_layers\": 2, "
             "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"head_dim\": 8, "
             "\"vocab_size\": 40, \"max_position_embeddings\": 64, \"tie_word_embeddings\": true}");
    expect_refused(&m, m.out, "mlp.gate_proj.weight has shape [24, 16]; config.json gives [20, 16]");
    remove_model_dir(&m);
    make_model_dir(&m, "one_layer", "mistral", "spm");
    char config_path[256];
    snprintf(config_path, sizeof config_path, "%s/config.json", m.dir);
    char *config = read_all(config_path, NULL);
    char *layers = strstr(config, "\"num_hidden_layers\": 2");
    assert_non_null(layers);
    layers[strlen("\"num_hidden_layers\": ")] = '1';
    put_file(m.dir, "config.json", config);
    free(config);
    expect_refused(&m, m.out, "tensor model.layers.1.input_layernorm.weight is not part of");
    remove_model_dir(&m);
    model_dir none = {.dir = "/nonexistent/model"};
    expect_refused(&none, "/tmp/vkq-gguf-none.gguf", "/nonexistent/model");
}

static void test_types(void **state)
{
    (void)state;
    vkq_gguf_type t;
    assert_int_equal(vkq_gguf_type_parse("bf16", &t), VKQ_OK);
    assert_int_equal(t, VKQ_GGUF_BF16);
    assert_int_not_equal(vkq_gguf_type_parse("q8_0", &t), VKQ_OK);
    assert_non_null(strstr(vkq_last_error(), "unknown GGUF type 'q8_0' (f16, bf16 or f32)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected_cases),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
