/* A hash map from byte strings to ids: open addressing with linear probing. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer_internal.h"

typedef struct vkq_str_slot {
    const char *key; /* NULL: empty */
    uint32_t length;
    int32_t id;
    uint64_t hash;
} vkq_str_slot;

uint64_t vkq_hash_bytes(const void *data, size_t length)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < length; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

vkq_status vkq_str_map_init(vkq_str_map *m, size_t expected)
{
    memset(m, 0, sizeof *m);
    size_t capacity = 16;
    while (capacity < expected * 2)
        capacity *= 2;
    m->slot = calloc(capacity, sizeof *m->slot);
    if (!m->slot)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate a map of %zu entries", capacity);
    m->capacity = capacity;
    return VKQ_OK;
}

static vkq_str_slot *find_slot(vkq_str_slot *slots, size_t capacity, const char *key,
                               size_t length, uint64_t hash)
{
    for (size_t i = hash & (capacity - 1);; i = (i + 1) & (capacity - 1)) {
        vkq_str_slot *s = &slots[i];
        if (!s->key || (s->hash == hash && s->length == length && memcmp(s->key, key, length) == 0))
            return s;
    }
}

static vkq_status grow(vkq_str_map *m)
{
    size_t capacity = m->capacity * 2;
    vkq_str_slot *slots = calloc(capacity, sizeof *slots);
    if (!slots)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot grow a map to %zu entries", capacity);
    for (size_t i = 0; i < m->capacity; i++)
        if (m->slot[i].key)
            *find_slot(slots, capacity, m->slot[i].key, m->slot[i].length, m->slot[i].hash) =
                m->slot[i];
    free(m->slot);
    m->slot = slots;
    m->capacity = capacity;
    return VKQ_OK;
}

vkq_status vkq_str_map_put(vkq_str_map *m, const char *key, size_t length, int32_t id,
                           int32_t *previous)
{
    if (length > UINT32_MAX)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "a key of %zu bytes is too long", length);
    if (2 * (m->count + 1) > m->capacity)
        VKQ_TRY(grow(m));
    uint64_t hash = vkq_hash_bytes(key, length);
    vkq_str_slot *s = find_slot(m->slot, m->capacity, key, length, hash);
    *previous = s->key ? s->id : -1;
    if (!s->key)
        m->count++;
    *s = (vkq_str_slot){key, (uint32_t)length, id, hash};
    return VKQ_OK;
}

int32_t vkq_str_map_get(const vkq_str_map *m, const char *key, size_t length)
{
    const vkq_str_slot *s =
        find_slot(m->slot, m->capacity, key, length, vkq_hash_bytes(key, length));
    return s->key ? s->id : -1;
}

void vkq_str_map_clear(vkq_str_map *m)
{
    memset(m->slot, 0, m->capacity * sizeof *m->slot);
    m->count = 0;
}

void vkq_str_map_free(vkq_str_map *m)
{
    free(m->slot);
    memset(m, 0, sizeof *m);
}
