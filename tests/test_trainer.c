/* The trainer end to end on a synthetic problem: learning happens,
 * results are deterministic (also across thread counts), checkpoints
 * resume bit-exactly, partial batches, evaluation metrics, frozen
 * parameters, and bad input handling. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/vktrain.h>

#include "test_util.h"

#define FEATURES 8
#define CLASSES 4
#define SAMPLES 52
#define BATCH 8

static float data_x[SAMPLES * FEATURES];
static int32_t data_y[SAMPLES];

static void make_data(void)
{
    float noise[SAMPLES * FEATURES];
    tu_fill_uniform(noise, SAMPLES * FEATURES, 5, -0.6f, 0.6f);
    for (int i = 0; i < SAMPLES; i++) {
        data_y[i] = (i * 5 + 1) % CLASSES;
        for (int f = 0; f < FEATURES; f++)
            data_x[i * FEATURES + f] = noise[i * FEATURES + f] + (f % CLASSES == data_y[i] ? 1.0f : 0.0f);
    }
}

typedef struct model {
    vkt_context *ctx;
    vkt_graph *g;
    vkt_trainer *tr;
    vkt_tensor loss;
} model;

static void model_make(model *m, int threads, vkt_optimizer_kind kind, const vkt_trainable_set *set, int batch)
{
    vkt_context_options co = {"cpu", threads};
    assert_int_equal(vkt_context_create(&co, &m->ctx), VKT_OK);
    assert_int_equal(vkt_graph_create(11, &m->g), VKT_OK);
    int d = FEATURES;
    vkt_tensor x = vkt_input(m->g, "x", VKT_F32, 1, &d);
    vkt_tensor y = vkt_input(m->g, "y", VKT_I32, 0, NULL);
    vkt_tensor h = vkt_linear(m->g, x, 16, true, "0");
    h = vkt_batch_norm(m->g, h, 1e-5f, 0.1f, "1");
    h = vkt_relu(m->g, h);
    h = vkt_dropout(m->g, h, 0.2f);
    vkt_tensor logits = vkt_linear(m->g, h, CLASSES, true, "4");
    m->loss = vkt_softmax_cross_entropy(m->g, logits, y, 0.05f);
    assert_int_equal(vkt_graph_status(m->g), VKT_OK);
    vkt_trainer_options to = {.trainable = set, .batch_size = batch, .seed = 3};
    to.optimizer = kind == VKT_OPT_SGD
                       ? (vkt_optimizer_config){.kind = VKT_OPT_SGD, .lr = 0.1f, .momentum = 0.9f, .weight_decay = 1e-3f}
                       : (vkt_optimizer_config){.kind = VKT_OPT_ADAMW, .lr = 0.01f, .weight_decay = 0.01f,
                                                .clip_grad_norm = 1.0f};
    assert_int_equal(vkt_trainer_create(m->ctx, m->g, m->loss, &to, &m->tr), VKT_OK);
}

static void model_free(model *m)
{
    vkt_trainer_destroy(m->tr);
    vkt_graph_destroy(m->g);
    vkt_context_destroy(m->ctx);
}

/* Steps [from, to) over the data in order, batches of BATCH (the last
 * of each pass partial). */
static void train_steps(model *m, int from, int to)
{
    int per_pass = (SAMPLES + BATCH - 1) / BATCH;
    for (int s = from; s < to; s++) {
        int b = s % per_pass, start = b * BATCH;
        int count = SAMPLES - start < BATCH ? SAMPLES - start : BATCH;
        const void *in[2] = {data_x + start * FEATURES, data_y + start};
        assert_int_equal(vkt_trainer_step(m->tr, in, count), VKT_OK);
    }
}

/* All parameters and state buffers, concatenated. */
static float *weights_of(model *m, size_t *count)
{
    assert_int_equal(vkt_trainer_sync_weights(m->tr), VKT_OK);
    size_t total = 0;
    int n = vkt_graph_param_count(m->g);
    for (int i = 0; i < n; i++) {
        vkt_param_info info;
        vkt_graph_param_info(m->g, i, &info);
        total += info.numel;
    }
    float *w = malloc(total * sizeof(float)), *p = w;
    for (int i = 0; i < n; i++) {
        vkt_param_info info;
        vkt_graph_param_info(m->g, i, &info);
        assert_int_equal(vkt_graph_param_get(m->g, info.name, p, info.numel), VKT_OK);
        p += info.numel;
    }
    *count = total;
    return w;
}

static double eval_accuracy(model *m, double *loss)
{
    for (int start = 0; start < SAMPLES; start += BATCH) {
        int count = SAMPLES - start < BATCH ? SAMPLES - start : BATCH;
        const void *in[2] = {data_x + start * FEATURES, data_y + start};
        assert_int_equal(vkt_trainer_eval_batch(m->tr, in, count), VKT_OK);
    }
    vkt_metrics met;
    assert_int_equal(vkt_trainer_read_eval_metrics(m->tr, &met), VKT_OK);
    assert_int_equal(met.samples, SAMPLES);
    *loss = met.loss_mean;
    return met.accuracy;
}

static void test_learns(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        model m;
        model_make(&m, 2, k ? VKT_OPT_ADAMW : VKT_OPT_SGD, NULL, BATCH);
        double loss0, loss1;
        eval_accuracy(&m, &loss0);
        train_steps(&m, 0, 70);
        vkt_metrics tm;
        assert_int_equal(vkt_trainer_read_train_metrics(m.tr, &tm), VKT_OK);
        assert_int_equal(tm.samples, 70 / 7 * SAMPLES);
        double acc = eval_accuracy(&m, &loss1);
        assert_true(loss1 < 0.5 * loss0);
        assert_true(acc >= 0.95);
        assert_int_equal(vkt_trainer_step_count(m.tr), 70);
        model_free(&m);
    }
}

static void test_deterministic(void **state)
{
    (void)state;
    size_t na, nb, nc;
    model a, b, c;
    model_make(&a, 1, VKT_OPT_ADAMW, NULL, BATCH);
    model_make(&b, 1, VKT_OPT_ADAMW, NULL, BATCH);
    model_make(&c, 2, VKT_OPT_ADAMW, NULL, BATCH);
    train_steps(&a, 0, 30);
    train_steps(&b, 0, 30);
    train_steps(&c, 0, 30);
    float *wa = weights_of(&a, &na), *wb = weights_of(&b, &nb), *wc = weights_of(&c, &nc);
    assert_int_equal(na, nb);
    assert_memory_equal(wa, wb, na * sizeof(float));
    /* Kernels reduce in a fixed order: thread count does not change bits. */
    assert_memory_equal(wa, wc, na * sizeof(float));
    free(wa), free(wb), free(wc);
    model_free(&a), model_free(&b), model_free(&c);
}

typedef struct meta_seen {
    char epoch[16];
    int count;
} meta_seen;

static void on_meta(const char *key, const char *value, void *user)
{
    meta_seen *s = user;
    if (strcmp(key, "epoch") == 0)
        snprintf(s->epoch, sizeof s->epoch, "%s", value);
    s->count++;
}

static void test_checkpoint_resume(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        vkt_optimizer_kind kind = k ? VKT_OPT_ADAMW : VKT_OPT_SGD;
        char *path = tu_temp_path(k ? "adamw.ckpt" : "sgd.ckpt");
        model full, first, second;
        model_make(&full, 2, kind, NULL, BATCH);
        train_steps(&full, 0, 20);

        model_make(&first, 2, kind, NULL, BATCH);
        train_steps(&first, 0, 9);
        vkt_kv meta[1] = {{"epoch", "1"}};
        assert_int_equal(vkt_trainer_save_checkpoint(first.tr, path, meta, 1), VKT_OK);
        model_free(&first);

        model_make(&second, 2, kind, NULL, BATCH); /* fresh weights, then resume */
        meta_seen seen = {{0}, 0};
        assert_int_equal(vkt_trainer_load_checkpoint(second.tr, path, on_meta, &seen), VKT_OK);
        assert_string_equal(seen.epoch, "1");
        assert_int_equal(seen.count, 1);
        assert_int_equal(vkt_trainer_step_count(second.tr), 9);
        train_steps(&second, 9, 20);

        size_t n1, n2;
        float *w1 = weights_of(&full, &n1), *w2 = weights_of(&second, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(w1, w2, n1 * sizeof(float));
        free(w1), free(w2);
        model_free(&full), model_free(&second);

        /* The wrong optimizer's checkpoint is refused, nothing changes. */
        model other;
        model_make(&other, 1, k ? VKT_OPT_SGD : VKT_OPT_ADAMW, NULL, BATCH);
        size_t nb, na;
        float *before = weights_of(&other, &nb);
        assert_int_equal(vkt_trainer_load_checkpoint(other.tr, path, NULL, NULL), VKT_ERR_INVALID_ARG);
        float *after = weights_of(&other, &na);
        assert_memory_equal(before, after, nb * sizeof(float));
        assert_int_equal(vkt_trainer_step_count(other.tr), 0);
        free(before), free(after);
        model_free(&other);
        free(path);
    }
}

/* A partial batch gives the same update as a trainer compiled for
 * exactly that batch size. */
static void test_partial_batch(void **state)
{
    (void)state;
    model big, exact;
    model_make(&big, 2, VKT_OPT_SGD, NULL, BATCH);
    model_make(&exact, 2, VKT_OPT_SGD, NULL, 5);
    const void *in[2] = {data_x, data_y};
    assert_int_equal(vkt_trainer_step(big.tr, in, 5), VKT_OK);
    assert_int_equal(vkt_trainer_step(exact.tr, in, 5), VKT_OK);
    size_t n1, n2;
    float *w1 = weights_of(&big, &n1), *w2 = weights_of(&exact, &n2);
    assert_memory_equal(w1, w2, n1 * sizeof(float));
    free(w1), free(w2);
    assert_int_equal(vkt_trainer_step(big.tr, in, 0), VKT_ERR_INVALID_ARG);
    assert_int_equal(vkt_trainer_step(big.tr, in, BATCH + 1), VKT_ERR_INVALID_ARG);
    model_free(&big), model_free(&exact);
}

static void test_frozen_stay_identical(void **state)
{
    (void)state;
    const char *names[] = {"4.weight", "4.bias"};
    vkt_trainable_set set = {.policy = VKT_TRAIN_NAMED, .names = names, .count = 2};
    model m;
    model_make(&m, 2, VKT_OPT_ADAMW, &set, BATCH);
    float w0[16 * FEATURES], w1[16 * FEATURES], head0[16 * CLASSES], head1[16 * CLASSES];
    vkt_graph_param_get(m.g, "0.weight", w0, 16 * FEATURES);
    vkt_graph_param_get(m.g, "4.weight", head0, 16 * CLASSES);
    train_steps(&m, 0, 10);
    assert_int_equal(vkt_trainer_sync_weights(m.tr), VKT_OK);
    vkt_graph_param_get(m.g, "0.weight", w1, 16 * FEATURES);
    vkt_graph_param_get(m.g, "4.weight", head1, 16 * CLASSES);
    assert_memory_equal(w0, w1, sizeof w0);
    assert_memory_not_equal(head0, head1, sizeof head0);
    vkt_memory_report mr;
    assert_int_equal(vkt_trainer_memory(m.tr, &mr), VKT_OK);
    assert_int_equal(mr.grads_bytes, (16 * CLASSES + CLASSES) * 4);
    model_free(&m);

    const char *bad[] = {"nope.weight"};
    vkt_trainable_set bad_set = {.policy = VKT_TRAIN_NAMED, .names = bad, .count = 1};
    vkt_context *ctx;
    vkt_graph *g;
    vkt_context_options co = {"cpu", 1};
    vkt_context_create(&co, &ctx);
    vkt_graph_create(1, &g);
    int d = 3;
    vkt_tensor loss = vkt_mse_loss(g, vkt_linear(g, vkt_input(g, "x", VKT_F32, 1, &d), 3, true, "fc"),
                                   vkt_input(g, "t", VKT_F32, 1, &d));
    vkt_trainer_options to = {.trainable = &bad_set, .batch_size = 2,
                              .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.1f}};
    vkt_trainer *tr = NULL;
    assert_int_equal(vkt_trainer_create(ctx, g, loss, &to, &tr), VKT_ERR_NOT_FOUND);
    assert_null(tr);
    assert_non_null(strstr(vkt_last_error(), "nope.weight"));
    vkt_graph_destroy(g);
    vkt_context_destroy(ctx);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    model m;
    model_make(&m, 1, VKT_OPT_SGD, NULL, BATCH);
    int32_t labels[BATCH] = {0, 1, 2, 3, 4, 0, 1, 2}; /* 4 is out of range */
    const void *in[2] = {data_x, labels};
    assert_int_equal(vkt_trainer_step(m.tr, in, BATCH), VKT_ERR_INVALID_ARG);
    assert_non_null(strstr(vkt_last_error(), "outside [0, 4)"));
    labels[4] = -1;
    assert_int_equal(vkt_trainer_eval_batch(m.tr, in, BATCH), VKT_ERR_INVALID_ARG);
    const void *missing[2] = {data_x, NULL};
    assert_int_equal(vkt_trainer_step(m.tr, missing, BATCH), VKT_ERR_INVALID_ARG);
    assert_int_equal(vkt_trainer_step_count(m.tr), 0);
    model_free(&m);
}

static void test_batchnorm_counter(void **state)
{
    (void)state;
    model m;
    model_make(&m, 1, VKT_OPT_SGD, NULL, BATCH);
    train_steps(&m, 0, 5);
    double loss;
    eval_accuracy(&m, &loss); /* evaluation does not count */
    assert_int_equal(vkt_trainer_sync_weights(m.tr), VKT_OK);
    float count, mean[16];
    assert_int_equal(vkt_graph_param_get(m.g, "1.num_batches_tracked", &count, 1), VKT_OK);
    assert_true(count == 5.0f);
    assert_int_equal(vkt_graph_param_get(m.g, "1.running_mean", mean, 16), VKT_OK);
    bool moved = false;
    for (int i = 0; i < 16; i++)
        moved |= mean[i] != 0.0f;
    assert_true(moved);
    model_free(&m);
}

static int group_setup(void **state)
{
    (void)state;
    make_data();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learns),           cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_checkpoint_resume), cmocka_unit_test(test_partial_batch),
        cmocka_unit_test(test_frozen_stay_identical), cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_batchnorm_counter),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
