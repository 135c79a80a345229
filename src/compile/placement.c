/* Liveness placement of arena slots.
 *
 * Every slot (or chain of slots sharing memory, in_place.c) is a block
 * of bytes live over an interval of launches; blocks whose intervals
 * overlap must not overlap in the arena. Blocks are placed largest
 * first, each at the lowest offset that collides with no placed block
 * live at the same time. Simple, deterministic, and close to optimal
 * for the chain-like graphs of small networks (other orders tried on
 * the presets did no better). */
#include <stdlib.h>

#include "plan.h"
#include "runtime/rt_error.h"

/* Arena slots are aligned so any view can be bound as a storage buffer
 * (minStorageBufferOffsetAlignment is at most 256 on real devices). */
#define ARENA_ALIGN 256

/* A block to place: bytes (before alignment), live over launches
 * [first, last]. */
typedef struct block {
    size_t bytes;
    int first, last;
} block;

typedef struct placed {
    size_t offset, end;
    int first, last;
} placed;

static int root_of(const plan *pl, int s)
{
    while (pl->slots[s].shares >= 0)
        s = pl->slots[s].shares;
    return s;
}

/* Per slot: its own extent, widened for a chain's root to the whole
 * chain (the largest member's size, from the root's first use to the
 * last member's last use; members follow each other). */
static void blocks_of(const plan *pl, block *b)
{
    for (int i = 0; i < pl->slot_count; i++) {
        const slot *s = &pl->slots[i];
        b[i] = (block){s->bytes ? s->bytes : 4, s->first_use, s->last_use};
    }
    for (int i = 0; i < pl->slot_count; i++) {
        const slot *s = &pl->slots[i];
        if (s->shares < 0 || s->first_use < 0)
            continue;
        block *r = &b[root_of(pl, i)];
        r->bytes = s->bytes > r->bytes ? s->bytes : r->bytes;
        r->first = s->first_use < r->first ? s->first_use : r->first;
        r->last = s->last_use > r->last ? s->last_use : r->last;
    }
}

/* Larger first; ties by slot index (deterministic). */
static int by_size_desc(const void *pa, const void *pb, void *ctx)
{
    const block *b = ctx;
    int ia = *(const int *)pa, ib = *(const int *)pb;
    if (b[ia].bytes != b[ib].bytes)
        return b[ia].bytes < b[ib].bytes ? 1 : -1;
    return ia - ib;
}

static int by_offset(const void *a, const void *b)
{
    const placed *pa = a, *pb = b;
    return pa->offset < pb->offset ? -1 : pa->offset > pb->offset;
}

/* First fit in `order`; offsets per slot in `offset`; returns the size. */
static size_t place(const block *b, const int *order, int count, size_t *offset, placed *done, placed *live)
{
    size_t total = 0;
    for (int k = 0; k < count; k++) {
        const block *s = &b[order[k]];
        size_t bytes = (s->bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
        int nlive = 0;
        for (int j = 0; j < k; j++)
            if (done[j].first <= s->last && s->first <= done[j].last)
                live[nlive++] = done[j];
        qsort(live, (size_t)nlive, sizeof *live, by_offset);
        size_t off = 0;
        for (int j = 0; j < nlive; j++) {
            if (off + bytes <= live[j].offset)
                break;
            if (live[j].end > off)
                off = live[j].end;
        }
        offset[order[k]] = off;
        done[k] = (placed){off, off + bytes, s->first, s->last};
        total = off + bytes > total ? off + bytes : total;
    }
    return total;
}

void plan_memory(plan *pl)
{
    size_t n = (size_t)pl->slot_count + 1;
    block *b = malloc(n * sizeof *b);
    int *order = malloc(n * sizeof *order);
    size_t *offset = malloc(n * sizeof *offset);
    placed *done = malloc(n * sizeof *done), *live = malloc(n * sizeof *live);
    if (!b || !order || !offset || !done || !live) {
        ec_fail(pl, rt_error(VKT_ERR_NO_MEMORY, "out of memory planning"));
    } else {
        blocks_of(pl, b);
        int count = 0;
        for (int i = 0; i < pl->slot_count; i++)
            if (pl->slots[i].kind == SLOT_ARENA && pl->slots[i].shares < 0 && b[i].first >= 0)
                order[count++] = i;
        qsort_r(order, (size_t)count, sizeof *order, by_size_desc, b);
        pl->arena_bytes = place(b, order, count, offset, done, live);
        for (int i = 0; i < pl->slot_count; i++) /* chain members at their root's offset */
            if (pl->slots[i].kind == SLOT_ARENA && (pl->slots[i].shares >= 0 || b[i].first >= 0))
                pl->slots[i].offset = offset[root_of(pl, i)];
    }
    free(b);
    free(order);
    free(offset);
    free(done);
    free(live);
}
