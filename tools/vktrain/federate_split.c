/* Splitting the training set among the clients: IID (a shuffled equal
 * split) or non-IID by label with Dirichlet(alpha) proportions (Hsu et
 * al. 2019): for each class, the share of its samples each client gets
 * is drawn from Dirichlet(alpha, ..., alpha); small alpha gives clients
 * few classes. Draws are repeated (new proportions) until every client
 * has at least min_samples. */
#include "federate.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLASSES 1024
#define MAX_DRAWS 200

void fsim_split_free(fsim_split *s, int clients)
{
    for (int c = 0; s->indices && c < clients; c++)
        free(s->indices[c]);
    free(s->indices);
    free(s->counts);
    memset(s, 0, sizeof *s);
}

static bool alloc_split(fsim_split *s, int clients, size_t total)
{
    s->indices = calloc((size_t)clients, sizeof *s->indices);
    s->counts = calloc((size_t)clients, sizeof *s->counts);
    if (!s->indices || !s->counts)
        return false;
    for (int c = 0; c < clients; c++)
        if (!(s->indices[c] = malloc((total ? total : 1) * sizeof **s->indices)))
            return false;
    return true;
}

static void split_iid(size_t *order, size_t total, int clients, fsim_split *s)
{
    for (size_t i = 0; i < total; i++) {
        int c = (int)(i % (size_t)clients);
        s->indices[c][s->counts[c]++] = order[i];
    }
}

/* One draw: class k's samples (in shuffled order) cut at the cumulative
 * Dirichlet proportions. */
static void split_dirichlet(const vkt_dataset *ds, size_t *order, size_t total, int clients, double alpha,
                            fsim_rng *rng, double *p, fsim_split *s)
{
    int classes = vkt_dataset_num_classes(ds);
    memset(s->counts, 0, (size_t)clients * sizeof *s->counts);
    for (int k = 0; k < classes; k++) {
        size_t in_class = 0;
        for (size_t i = 0; i < total; i++)
            in_class += vkt_dataset_label(ds, order[i]) == k;
        double sum = 0.0;
        for (int c = 0; c < clients; c++)
            sum += (p[c] = fsim_rng_gamma(rng, alpha));
        size_t seen = 0;
        double cumulative = 0.0;
        int c = 0;
        for (size_t i = 0; i < total; i++) {
            if (vkt_dataset_label(ds, order[i]) != k)
                continue;
            /* sample `seen` goes to the first client whose cumulative
             * share passes its position */
            double position = ((double)seen + 0.5) / (double)in_class;
            while (c < clients - 1 && cumulative + p[c] / sum < position)
                cumulative += p[c++] / sum;
            s->indices[c][s->counts[c]++] = order[i];
            seen++;
        }
    }
}

static bool parse_alpha(const char *spec, double *alpha)
{
    const char *text = spec + strlen("dirichlet:");
    char *end;
    errno = 0;
    *alpha = strtod(text, &end);
    return (*text >= '0' && *text <= '9') && errno == 0 && *end == '\0' && *alpha >= 1e-3 && *alpha <= 1e6;
}

bool fsim_split_check(const char *spec, double *alpha)
{
    *alpha = 0.0;
    if (strcmp(spec, "iid") == 0 || (strncmp(spec, "dirichlet:", 10) == 0 && parse_alpha(spec, alpha)))
        return true;
    cli_error("invalid value '%s' for --split (expected iid or dirichlet:ALPHA, ALPHA from 0.001)", spec);
    return false;
}

bool fsim_split_create(const vkt_dataset *ds, const char *spec, int clients, size_t min_samples, uint64_t seed,
                       fsim_split *out)
{
    memset(out, 0, sizeof *out);
    double alpha;
    if (!fsim_split_check(spec, &alpha))
        return false;
    bool iid = alpha == 0.0;
    size_t total = vkt_dataset_count(ds);
    if (total < (size_t)clients * min_samples) {
        cli_error("%zu training samples cannot give %d clients %zu each", total, clients, min_samples);
        return false;
    }
    if (vkt_dataset_num_classes(ds) > MAX_CLASSES) {
        cli_error("too many classes to split by label");
        return false;
    }
    size_t *order = malloc(total * sizeof *order);
    double *p = malloc((size_t)clients * sizeof *p);
    if (!order || !p || !alloc_split(out, clients, total)) {
        cli_error("out of memory splitting the data");
        free(order);
        free(p);
        fsim_split_free(out, clients);
        return false;
    }
    fsim_rng rng;
    fsim_rng_seed(&rng, seed, 1);
    for (size_t i = 0; i < total; i++)
        order[i] = i;
    fsim_rng_shuffle(&rng, order, total);

    bool ok = true;
    if (iid) {
        split_iid(order, total, clients, out);
    } else {
        ok = false;
        for (int draw = 0; draw < MAX_DRAWS && !ok; draw++) {
            split_dirichlet(ds, order, total, clients, alpha, &rng, p, out);
            ok = true;
            for (int c = 0; c < clients; c++)
                ok = ok && out->counts[c] >= min_samples;
        }
        if (!ok)
            cli_error("--split %s: no draw in %d gave every client %zu samples; raise alpha or lower --clients",
                      spec, MAX_DRAWS, min_samples);
    }
    free(order);
    free(p);
    if (!ok)
        fsim_split_free(out, clients);
    return ok;
}
