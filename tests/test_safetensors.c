/* safetensors: half-precision conversions against hand-worked bit patterns and PyTorch, files
 * written by an independent writer (tools/make_safetensors_cases.py), one malformed file per
 * rule, and round trips through vkquill's writer, single and sharded. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "support.h"
#include "vkquill/safetensors.h"

#define CASES VKQ_SOURCE_DIR "/tests/data/safetensors"

static char temp_dir[TEST_DIR_SIZE];

static int make_temp(void **state)
{
    (void)state;
    return test_make_temp_dir(temp_dir, "safetensors");
}

static int remove_temp(void **state)
{
    (void)state;
    return test_remove_tree(temp_dir);
}


static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("\"%s\" does not contain \"%s\"", text, part);
}

/* Worked out by hand from the IEEE layouts: sign | exponent | mantissa. */
static void test_hand_worked_bits(void **state)
{
    (void)state;
    static const struct {
        uint32_t f32;
        uint16_t bf16, f16;
    } cases[] = {
        {0x3F800000, 0x3F80, 0x3C00}, /* 1.0 */
        {0xC0200000, 0xC020, 0xC100}, /* -2.5 = -1.25 * 2^1 */
        {0x80000000, 0x8000, 0x8000}, /* -0 */
        {0x33800000, 0x3380, 0x0001}, /* 2^-24, the smallest half subnormal */
        {0x33000000, 0x3300, 0x0000}, /* 2^-25: halfway between 0 and 2^-24, to even 0 */
        {0x33400000, 0x3340, 0x0001}, /* 1.5 * 2^-25: above halfway */
        {0x33C00000, 0x33C0, 0x0002}, /* 3 * 2^-25: halfway between 1 and 2 units, to 2 */
        {0x38800000, 0x3880, 0x0400}, /* 2^-14, the smallest half normal */
        {0x477FE000, 0x4780, 0x7BFF}, /* 65504, the largest half; bf16 rounds up to 65536 */
        {0x477FEF00, 0x4780, 0x7BFF}, /* 65519 */
        {0x477FF000, 0x4780, 0x7C00}, /* 65520: halfway to 65536, to even: infinity */
        {0xC788B800, 0xC789, 0xFC00}, /* -70000 = -1.068115234375 * 2^16 */
        {0x3F808000, 0x3F80, 0x3C04}, /* 1 + 2^-8: bf16 halfway, to even 0x3F80 */
        {0x3F818000, 0x3F82, 0x3C0C}, /* 1 + 3*2^-8: bf16 halfway, to even 0x3F82 */
        {0x3F808001, 0x3F81, 0x3C04}, /* just above the bf16 halfway point */
        {0x3F801000, 0x3F80, 0x3C00}, /* 1 + 2^-11: f16 halfway, to even 0x3C00 */
        {0x3F803000, 0x3F80, 0x3C02}, /* 1 + 3*2^-11: f16 halfway, to even 0x3C02 */
        {0x7F7FFFFF, 0x7F80, 0x7C00}, /* FLT_MAX: bf16 rounds to infinity */
        {0x7F800000, 0x7F80, 0x7C00}, /* inf */
        {0x00000001, 0x0000, 0x0000}, /* the smallest f32 subnormal */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float f = vkq_f32_from_bits(cases[i].f32);
        if (vkq_f32_to_bf16(f) != cases[i].bf16 || vkq_f32_to_f16(f) != cases[i].f16)
            fail_msg("0x%08X: bf16 0x%04X (want 0x%04X), f16 0x%04X (want 0x%04X)",
                     cases[i].f32, vkq_f32_to_bf16(f), cases[i].bf16, vkq_f32_to_f16(f),
                     cases[i].f16);
    }
    assert_int_equal(vkq_f32_bits(vkq_f16_to_f32(0x0001)), 0x33800000);
    assert_int_equal(vkq_f32_bits(vkq_f16_to_f32(0x7BFF)), 0x477FE000);
    assert_int_equal(vkq_f32_bits(vkq_f16_to_f32(0xC100)), 0xC0200000);
    assert_int_equal(vkq_f32_bits(vkq_f16_to_f32(0x03FF)), 0x387FC000); /* 1023 * 2^-24 */
    assert_int_equal(vkq_f32_bits(vkq_f16_to_f32(0xFC00)), 0xFF800000);
    assert_int_equal(vkq_f32_bits(vkq_bf16_to_f32(0xC020)), 0xC0200000);
    /* NaNs stay NaNs, even a signalling one whose payload sits below the kept bits */
    uint32_t nans[] = {0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        float nan = vkq_f32_from_bits(nans[i]);
        assert_true(isnan(vkq_bf16_to_f32(vkq_f32_to_bf16(nan))));
        assert_true(isnan(vkq_f16_to_f32(vkq_f32_to_f16(nan))));
        assert_int_equal(vkq_f32_to_bf16(nan) >> 15, nans[i] >> 31);
    }
    assert_int_equal(vkq_f32_to_f16(vkq_f32_from_bits(0x7FC00000)), 0x7E00);
    assert_int_equal(vkq_f32_to_bf16(vkq_f32_from_bits(0x7FC00000)), 0x7FC0);
    assert_true(isnan(vkq_f16_to_f32(0x7E00)) && isnan(vkq_bf16_to_f32(0x7FC1)));
}

static void read_all_f32(const vkq_st_tensor *t, float *out)
{
    /* in uneven pieces, as a streaming caller would */
    for (uint64_t at = 0; at < t->count;) {
        size_t n = t->count - at < 7 ? (size_t)(t->count - at) : 7;
        OK(vkq_st_to_f32(t, at, n, out + at));
        at += n;
    }
}

/* Every value PyTorch converted must convert the same way here, both directions. */
static void test_conversion_against_torch(void **state)
{
    (void)state;
    vkq_st_file *f;
    OK(vkq_st_open(CASES "/conversion.safetensors", &f));
    const vkq_st_tensor *source = vkq_st_find(f, "source");
    assert_non_null(source);
    size_t n = (size_t)source->count;
    float *src = malloc(n * sizeof *src), *got = malloc(n * sizeof *got);
    float *want = malloc(n * sizeof *want);
    uint16_t *half = malloc(n * sizeof *half);
    read_all_f32(source, src);
    static const struct {
        const char *stored, *widened;
        vkq_st_dtype dtype;
    } kinds[] = {{"bf16", "bf16_f32", VKQ_ST_BF16}, {"f16", "f16_f32", VKQ_ST_F16}};
    for (int k = 0; k < 2; k++) {
        const vkq_st_tensor *stored = vkq_st_find(f, kinds[k].stored);
        assert_non_null(stored);
        assert_int_equal(stored->dtype, kinds[k].dtype);
        read_all_f32(stored, got);
        read_all_f32(vkq_st_find(f, kinds[k].widened), want);
        OK(vkq_st_from_f32(kinds[k].dtype, src, n, half));
        for (size_t i = 0; i < n; i++) {
            if (vkq_f32_bits(got[i]) != vkq_f32_bits(want[i]) && !(isnan(got[i]) && isnan(want[i])))
                fail_msg("%s[%zu]: widened 0x%08X, torch 0x%08X", kinds[k].stored, i,
                         vkq_f32_bits(got[i]), vkq_f32_bits(want[i]));
            uint16_t torch = (uint16_t)(stored->data[2 * i] | stored->data[2 * i + 1] << 8);
            if (isnan(src[i])) { /* NaN bit patterns differ between PyTorch's code paths */
                assert_true(isnan(got[i]));
                assert_true(isnan(kinds[k].dtype == VKQ_ST_BF16 ? vkq_bf16_to_f32(half[i])
                                                                : vkq_f16_to_f32(half[i])));
                continue;
            }
            if (half[i] != torch)
                fail_msg("%s[%zu] of 0x%08X: 0x%04X, torch 0x%04X", kinds[k].stored, i,
                         vkq_f32_bits(src[i]), half[i], torch);
        }
    }
    free(src), free(got), free(want), free(half);
    vkq_st_close(f);
}

static cJSON *load_json(const char *path)
{
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[n] = '\0';
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    return root;
}

static void test_independent_file(void **state)
{
    (void)state;
    vkq_st_file *f;
    OK(vkq_st_open(CASES "/mixed.safetensors", &f));
    cJSON *expected = load_json(CASES "/mixed.expected.json");
    assert_int_equal(vkq_st_count(f), (size_t)cJSON_GetArraySize(expected));
    assert_string_equal(vkq_st_metadata(f, "format"), "pt");
    assert_string_equal(vkq_st_metadata(f, "note"), "caf\xc3\xa9 \xe2\x98\x83");
    assert_null(vkq_st_metadata(f, "absent"));
    assert_string_equal(vkq_st_at(f, 0)->name, "model.c.weight"); /* the first data */
    for (const cJSON *e = expected->child; e; e = e->next) {
        const vkq_st_tensor *t = vkq_st_find(f, e->string);
        assert_non_null(t);
        assert_string_equal(vkq_st_dtype_name(t->dtype),
                            cJSON_GetObjectItem(e, "dtype")->valuestring);
        const cJSON *shape = cJSON_GetObjectItem(e, "shape");
        assert_int_equal(t->rank, cJSON_GetArraySize(shape));
        for (int d = 0; d < t->rank; d++)
            assert_int_equal(t->shape[d], cJSON_GetArrayItem(shape, d)->valueint);
        const cJSON *bits = cJSON_GetObjectItem(e, "f32_bits");
        float values[16];
        if (!bits) {
            assert_int_equal(vkq_st_to_f32(t, 0, 1, values), VKQ_ERR_UNSUPPORTED);
            assert_contains(vkq_last_error(), CASES "/mixed.safetensors: tensor \"");
            assert_contains(vkq_last_error(), e->string);
            assert_contains(vkq_last_error(), vkq_st_dtype_name(t->dtype));
            continue;
        }
        assert_int_equal(t->count, (uint64_t)cJSON_GetArraySize(bits));
        read_all_f32(t, values);
        for (uint64_t i = 0; i < t->count; i++)
            assert_int_equal(vkq_f32_bits(values[i]), (uint32_t)cJSON_GetArrayItem(bits, (int)i)->valuedouble);
    }
    const vkq_st_tensor *scalar = vkq_st_find(f, "scalar");
    assert_int_equal(scalar->rank, 0);
    assert_int_equal(scalar->count, 1);
    float past;
    assert_int_equal(vkq_st_to_f32(scalar, 1, 1, &past), VKQ_ERR_INVALID_ARGUMENT);
    assert_contains(vkq_last_error(), "tensor \"scalar\"");
    assert_null(vkq_st_find(f, "model.a"));
    cJSON_Delete(expected);
    vkq_st_close(f);
}

static void test_independent_shards(void **state)
{
    (void)state;
    vkq_st_model *m;
    OK(vkq_st_model_open(CASES "/sharded", &m));
    assert_int_equal(vkq_st_model_count(m), 3);
    assert_string_equal(vkq_st_model_at(m, 0)->name, "lm_head.weight");
    const vkq_st_tensor *t;
    OK(vkq_st_model_get(m, "lm_head.weight", &t));
    assert_int_equal(t->dtype, VKQ_ST_F16);
    assert_contains(t->file, "model-00002-of-00002.safetensors");
    OK(vkq_st_model_get(m, "model.embed_tokens.weight", &t));
    assert_int_equal(t->dtype, VKQ_ST_BF16);
    assert_int_equal(t->count, 12);
    assert_contains(t->file, "model-00001-of-00002.safetensors");
    assert_int_equal(vkq_st_model_get(m, "model.layers.9.x", &t), VKQ_ERR_FORMAT);
    assert_contains(vkq_last_error(), CASES "/sharded: tensor \"model.layers.9.x\"");
    vkq_st_model_close(m);
}

/* One malformed file per rule; the message names the file and, where there is one, the
 * tensor. */
static void test_malformed_files(void **state)
{
    (void)state;
    static const struct {
        const char *file, *tensor, *phrase;
    } cases[] = {
        {"too_short", NULL, "too short"},
        {"header_too_large", NULL, "100000000-byte limit"},
        {"header_past_end", NULL, "past the end"},
        {"header_not_utf8", NULL, "UTF-8"},
        {"header_not_json", NULL, "not valid JSON"},
        {"header_not_object", NULL, "not a JSON object"},
        {"header_trailing_text", NULL, "text after"},
        {"header_nul", NULL, "NUL"},
        {"duplicate_name", "w", "twice"},
        {"unknown_dtype", "w", "unknown dtype \"Q7\""},
        {"missing_dtype", "w", "missing field \"dtype\""},
        {"missing_shape", "w", "missing field \"shape\""},
        {"missing_offsets", "w", "missing field \"data_offsets\""},
        {"unknown_field", "w", "unknown field \"extra\""},
        {"negative_dim", "w", "dim -2"},
        {"fractional_dim", "w", "dim 2.5"},
        {"too_many_dims", "w", "9 dims"},
        {"count_overflow", "w", "overflows"},
        {"size_mismatch", "w", "hold 8 bytes; dtype F32 and its shape need 12"},
        {"offsets_reversed", "w", "end before they begin"},
        {"offsets_not_pair", "w", "[begin, end]"},
        {"offsets_past_data", "w", "past the data section (4 bytes)"},
        {"overlap", "x", "overlaps tensor \"w\""},
        {"gap", "x", "leaving bytes [8, 12)"},
        {"not_from_zero", "w", "leaving bytes [0, 4)"},
        {"data_past_tensors", NULL, "cover 8 bytes of a 12-byte data section"},
        {"metadata_not_string", NULL, "\"__metadata__\" value \"format\""},
        {"entry_not_object", "w", "must be an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512], tensor[64];
        snprintf(path, sizeof path, "%s/bad/%s.safetensors", CASES, cases[i].file);
        vkq_st_file *f = (vkq_st_file *)1;
        vkq_status s = vkq_st_open(path, &f);
        if (s != VKQ_ERR_FORMAT)
            fail_msg("%s: status %d (%s)", cases[i].file, s, vkq_last_error());
        assert_null(f);
        const char *message = vkq_last_error();
        assert_null(strchr(message, '\n'));
        assert_true(strncmp(message, path, strlen(path)) == 0);
        if (cases[i].tensor) {
            snprintf(tensor, sizeof tensor, ": tensor \"%s\"", cases[i].tensor);
            assert_contains(message, tensor);
        }
        assert_contains(message, cases[i].phrase);
    }
}

static void test_malformed_shards(void **state)
{
    (void)state;
    static const struct {
        const char *dir, *file, *tensor, *phrase;
    } cases[] = {
        {"missing_shard", "model-00002-of-00002.safetensors", NULL, "cannot open"},
        {"missing_tensor", "model.safetensors.index.json", "model.layers.0.ghost",
         "not in its shard"},
        {"parent_path", "model.safetensors.index.json", "model.norm.weight", "is not a file in"},
        {"absolute_path", "model.safetensors.index.json", "model.norm.weight",
         "is not a file in"},
        {"unlisted_tensor", "model-00001-of-00002.safetensors", "model.norm.weight",
         "does not map it"},
        {"wrong_shard", "model.safetensors.index.json", "lm_head.weight", "not in its shard"},
        {"no_weight_map", "model.safetensors.index.json", NULL, "\"weight_map\""},
        {"bad_shard_file", "model-00002-of-00002.safetensors", "lm_head.weight", "hold 20"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[512], where[600], tensor[128];
        snprintf(dir, sizeof dir, "%s/bad_shards/%s", CASES, cases[i].dir);
        snprintf(where, sizeof where, "%s/%s", dir, cases[i].file);
        vkq_st_model *m = (vkq_st_model *)1;
        vkq_status s = vkq_st_model_open(dir, &m);
        if (s == VKQ_OK)
            fail_msg("%s: opened", cases[i].dir);
        assert_null(m);
        const char *message = vkq_last_error();
        if (!strstr(message, where))
            fail_msg("%s: \"%s\" does not name %s", cases[i].dir, message, where);
        if (cases[i].tensor) {
            snprintf(tensor, sizeof tensor, "tensor \"%s\"", cases[i].tensor);
            assert_contains(message, tensor);
        }
        assert_contains(message, cases[i].phrase);
    }
    vkq_st_model *m;
    assert_int_equal(vkq_st_model_open(CASES "/bad", &m), VKQ_ERR_IO);
    assert_contains(vkq_last_error(), CASES "/bad: holds neither");
}

/* The header the reference writer produces, worked out by hand: compact JSON, offsets from
 * 0, padded with spaces to a multiple of 8. */
static void test_writer_layout(void **state)
{
    (void)state;
    float values[6] = {0, 1, 2, 3, 4, 5};
    vkq_st_write_tensor t = {.name = "attn.0", .dtype = VKQ_ST_F32, .rank = 3,
                             .shape = {1, 2, 3}, .data = values};
    const char *path = test_path(temp_dir, "layout.safetensors");
    OK(vkq_st_write_file(path, &t, 1, NULL, 0));
    static const char header[] =
        "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
    assert_int_equal(sizeof header - 1, 64);
    unsigned char file[256];
    FILE *f = fopen(path, "rb");
    size_t n = fread(file, 1, sizeof file, f);
    fclose(f);
    assert_int_equal(n, 8 + 64 + 24);
    assert_int_equal(file[0], 64);
    assert_memory_equal(file + 8, header, 64);
    assert_memory_equal(file + 72, values, 24);

    OK(vkq_st_write_file(path, NULL, 0, NULL, 0));
    f = fopen(path, "rb");
    n = fread(file, 1, sizeof file, f);
    fclose(f);
    assert_int_equal(n, 16);
    assert_memory_equal(file, "\x08\0\0\0\0\0\0\0{}      ", 16);

    /* F32 before BF16 before F16, then by name; metadata first; spaces up to 8 */
    uint16_t h[1] = {0x3C00};
    vkq_st_write_tensor three[] = {
        {.name = "b", .dtype = VKQ_ST_F16, .rank = 1, .shape = {1}, .data = h},
        {.name = "a", .dtype = VKQ_ST_BF16, .rank = 1, .shape = {1}, .data = h},
        {.name = "z", .dtype = VKQ_ST_F32, .rank = 0, .data = values},
    };
    vkq_st_metadata_entry meta = {"format", "pt"};
    OK(vkq_st_write_file(path, three, 3, &meta, 1));
    static const char ordered[] =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"z\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
        "\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[4,6]},"
        "\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[6,8]}}";
    size_t length = sizeof ordered - 1, padded = (length + 7) / 8 * 8;
    f = fopen(path, "rb");
    n = fread(file, 1, sizeof file, f);
    fclose(f);
    assert_int_equal(n, 8 + padded + 8);
    assert_int_equal(file[0], padded);
    assert_memory_equal(file + 8, ordered, length);
    for (size_t i = length; i < padded; i++)
        assert_int_equal(file[8 + i], ' ');
}

typedef struct ramp {
    vkq_st_dtype dtype;
    uint64_t count;
} ramp;

static float ramp_value(uint64_t i) { return (float)((double)i * 0.37 - 11.0); }

/* Fills a piece of a tensor holding ramp_value(i), without ever holding all of it. */
static vkq_status fill_ramp(void *user, uint64_t offset, void *buffer, size_t size)
{
    const ramp *r = user;
    size_t width = vkq_st_dtype_bits(r->dtype) / 8;
    assert_int_equal(offset % width, 0);
    for (size_t i = 0; i < size / width; i++) {
        float v = ramp_value(offset / width + i);
        vkq_st_from_f32(r->dtype, &v, 1, (unsigned char *)buffer + i * width);
    }
    return VKQ_OK;
}

/* What a value becomes after a trip through dtype. */
static float rounded(vkq_st_dtype dtype, float v)
{
    return dtype == VKQ_ST_F32 ? v : dtype == VKQ_ST_BF16 ? vkq_bf16_to_f32(vkq_f32_to_bf16(v))
                                                          : vkq_f16_to_f32(vkq_f32_to_f16(v));
}

enum { N_ROUND = 5 };

static void round_trip_tensors(vkq_st_write_tensor *t, ramp *ramps, float *direct)
{
    for (int i = 0; i < 100; i++)
        direct[i] = ramp_value((uint64_t)i * 7);
    static const char *names[N_ROUND] = {"model.embed_tokens.weight", "model.norm.weight",
                                         "lm_head.weight", "model.layers.0.mlp.up_proj.weight",
                                         "scale"};
    static const vkq_st_dtype dtypes[N_ROUND] = {VKQ_ST_BF16, VKQ_ST_F32, VKQ_ST_F16,
                                                 VKQ_ST_BF16, VKQ_ST_F32};
    static const uint64_t shapes[N_ROUND][2] = {{300, 1000}, {100, 0}, {7, 5000}, {0, 5},
                                                {1, 1}};
    for (int i = 0; i < N_ROUND; i++) {
        ramps[i] = (ramp){dtypes[i], shapes[i][0] * (shapes[i][1] ? shapes[i][1] : 1)};
        t[i] = (vkq_st_write_tensor){.name = names[i], .dtype = dtypes[i],
                                     .rank = shapes[i][1] || i == 3 ? 2 : 1,
                                     .shape = {shapes[i][0], shapes[i][1]}};
        if (dtypes[i] == VKQ_ST_F32 && i == 1)
            t[i].data = direct;
        else
            t[i].fill = fill_ramp, t[i].user = &ramps[i];
    }
    ramps[3].count = 0;
    ramps[4].count = 1;
}

static void check_round_trip(const vkq_st_model *m, const vkq_st_write_tensor *t,
                             const ramp *ramps, const float *direct)
{
    assert_int_equal(vkq_st_model_count(m), N_ROUND);
    float *values = malloc(300 * 1000 * sizeof *values);
    for (int i = 0; i < N_ROUND; i++) {
        const vkq_st_tensor *got;
        OK(vkq_st_model_get(m, t[i].name, &got));
        assert_int_equal(got->dtype, t[i].dtype);
        assert_int_equal(got->rank, t[i].rank);
        assert_int_equal(got->count, ramps[i].count);
        OK(vkq_st_to_f32(got, 0, (size_t)got->count, values));
        for (uint64_t k = 0; k < got->count; k++) {
            float want = t[i].data ? direct[k] : rounded(t[i].dtype, ramp_value(k));
            if (vkq_f32_bits(values[k]) != vkq_f32_bits(want))
                fail_msg("%s[%llu]: %g, want %g", t[i].name, (unsigned long long)k, values[k],
                         want);
        }
    }
    free(values);
}

static void assert_no_file(const char *path)
{
    if (access(path, F_OK) == 0)
        fail_msg("%s exists", path);
}

static void test_round_trip(void **state)
{
    (void)state;
    vkq_st_write_tensor t[N_ROUND];
    ramp ramps[N_ROUND];
    float direct[100];
    round_trip_tensors(t, ramps, direct);
    vkq_st_metadata_entry meta = {"format", "pt"};
    const char *dir = test_path(temp_dir, "single");
    OK(vkq_st_write_model(dir, t, N_ROUND, &meta, 1, VKQ_ST_DEFAULT_SHARD_BYTES));
    assert_no_file(test_path(temp_dir, "single/model.safetensors.index.json"));
    assert_no_file(test_path(temp_dir, "single/model.safetensors.tmp"));
    vkq_st_model *m;
    OK(vkq_st_model_open(dir, &m));
    check_round_trip(m, t, ramps, direct);
    vkq_st_model_close(m);
    vkq_st_file *f;
    OK(vkq_st_open(test_path(temp_dir, "single/model.safetensors"), &f));
    assert_string_equal(vkq_st_metadata(f, "format"), "pt");
    vkq_st_close(f);
}

/* Bytes: embed 600000 (BF16), norm 400 (F32), lm_head 70000 (F16), up_proj 0, scale 4. */
static void test_round_trip_sharded(void **state)
{
    (void)state;
    vkq_st_write_tensor t[N_ROUND];
    ramp ramps[N_ROUND];
    float direct[100];
    round_trip_tensors(t, ramps, direct);
    const char *dir = test_path(temp_dir, "sharded");
    /* in the given order: embed 600000 alone (over the limit); norm 400 + lm_head 70000 fill
     * 70400; up_proj 0 joins them; scale 4 would pass 70400 -> a third shard */
    OK(vkq_st_write_model(dir, t, N_ROUND, NULL, 0, 70400));
    vkq_st_model *m;
    OK(vkq_st_model_open(dir, &m));
    check_round_trip(m, t, ramps, direct);
    const vkq_st_tensor *x;
    OK(vkq_st_model_get(m, "model.embed_tokens.weight", &x));
    assert_contains(x->file, "/model-00001-of-00003.safetensors");
    OK(vkq_st_model_get(m, "model.layers.0.mlp.up_proj.weight", &x));
    assert_contains(x->file, "/model-00002-of-00003.safetensors");
    OK(vkq_st_model_get(m, "scale", &x));
    assert_contains(x->file, "/model-00003-of-00003.safetensors");
    vkq_st_model_close(m);
    static const char index[] =
        "{\n  \"metadata\": {\n    \"total_size\": 670404\n  },\n  \"weight_map\": {\n"
        "    \"lm_head.weight\": \"model-00002-of-00003.safetensors\",\n"
        "    \"model.embed_tokens.weight\": \"model-00001-of-00003.safetensors\",\n"
        "    \"model.layers.0.mlp.up_proj.weight\": \"model-00002-of-00003.safetensors\",\n"
        "    \"model.norm.weight\": \"model-00002-of-00003.safetensors\",\n"
        "    \"scale\": \"model-00003-of-00003.safetensors\"\n  }\n}\n";
    char text[1024];
    FILE *f = fopen(test_path(temp_dir, "sharded/model.safetensors.index.json"), "rb");
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    assert_int_equal(n, sizeof index - 1);
    assert_memory_equal(text, index, n);
}

static vkq_status fill_fails(void *user, uint64_t offset, void *buffer, size_t size)
{
    (void)user, (void)offset, (void)buffer, (void)size;
    return VKQ_ERR_DEVICE_LOST;
}

static void test_writer_refuses(void **state)
{
    (void)state;
    float v[2] = {1, 2};
    const char *path = test_path(temp_dir, "refused.safetensors");
    vkq_st_write_tensor twice[] = {
        {.name = "w", .dtype = VKQ_ST_F32, .rank = 1, .shape = {1}, .data = v},
        {.name = "w", .dtype = VKQ_ST_F32, .rank = 1, .shape = {1}, .data = v + 1}};
    assert_int_equal(vkq_st_write_file(path, twice, 2, NULL, 0), VKQ_ERR_INVALID_ARGUMENT);
    assert_contains(vkq_last_error(), "tensor \"w\" is given twice");
    vkq_st_write_tensor bad = {.name = "w", .dtype = VKQ_ST_F32, .rank = 1, .shape = {1}};
    assert_int_equal(vkq_st_write_file(path, &bad, 1, NULL, 0), VKQ_ERR_INVALID_ARGUMENT);
    assert_contains(vkq_last_error(), "refused.safetensors: tensor \"w\": neither data nor fill");
    bad.data = v;
    bad.name = "__metadata__";
    assert_int_equal(vkq_st_write_file(path, &bad, 1, NULL, 0), VKQ_ERR_INVALID_ARGUMENT);
    bad.name = "w";
    bad.rank = 9;
    assert_int_equal(vkq_st_write_file(path, &bad, 1, NULL, 0), VKQ_ERR_INVALID_ARGUMENT);
    bad.rank = 1;
    bad.dtype = VKQ_ST_F4;
    assert_int_equal(vkq_st_write_file(path, &bad, 1, NULL, 0), VKQ_ERR_INVALID_ARGUMENT);
    assert_contains(vkq_last_error(), "whole number of bytes");
    bad = (vkq_st_write_tensor){.name = "w", .dtype = VKQ_ST_F32, .rank = 1, .shape = {1},
                                .fill = fill_fails};
    assert_int_equal(vkq_st_write_file(path, &bad, 1, NULL, 0), VKQ_ERR_DEVICE_LOST);
    assert_no_file(path);
    assert_no_file(test_path(temp_dir, "refused.safetensors.tmp"));
    assert_int_equal(vkq_st_from_f32(VKQ_ST_F64, v, 1, v), VKQ_ERR_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_worked_bits),
        cmocka_unit_test(test_conversion_against_torch),
        cmocka_unit_test(test_independent_file),
        cmocka_unit_test(test_independent_shards),
        cmocka_unit_test(test_malformed_files),
        cmocka_unit_test(test_malformed_shards),
        cmocka_unit_test(test_writer_layout),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_sharded),
        cmocka_unit_test(test_writer_refuses),
    };
    return cmocka_run_group_tests(tests, make_temp, remove_temp);
}
