/* Sparse channel updates (VKT_TRAIN_CHANNELS): the rows with the largest
 * weight norm are chosen, their gradients equal those rows of full
 * backprop bit for bit (CPU), other rows never move, gradients and
 * optimizer state hold only the trained rows, and checkpoints resume
 * exactly and refuse another selection. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vktrain/vktrain.h>

#include "grad_harness.h"
#include "src/train/trainer_internal.h"
#include "test_util.h"

#define BATCH 5
#define CLASSES 4

typedef struct net {
    vkt_context *ctx;
    vkt_graph *g;
    vkt_tensor loss;
    float x[BATCH * 2 * 6 * 6];
    int32_t y[BATCH];
} net;

/* conv "c1" (2->6) -> relu -> depthwise "dw" -> gap -> linear "fc1"
 * (6->8) -> relu -> linear "fc" (8->4, the classifier: trained in full) */
static void net_make(net *n)
{
    vkt_context_options co = {"cpu", 2};
    assert_int_equal(vkt_context_create(&co, &n->ctx), VKT_OK);
    assert_int_equal(vkt_graph_create(21, &n->g), VKT_OK);
    int img[3] = {2, 6, 6};
    vkt_tensor x = vkt_input(n->g, "x", VKT_F32, 3, img);
    vkt_tensor y = vkt_input(n->g, "y", VKT_I32, 0, NULL);
    vkt_conv2d_params c1 = {.out_channels = 6, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};
    vkt_conv2d_params dw = {.out_channels = 6, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .groups = 6};
    vkt_tensor h = vkt_relu(n->g, vkt_conv2d(n->g, x, &c1, "c1"));
    h = vkt_global_avg_pool(n->g, vkt_conv2d(n->g, h, &dw, "dw"));
    h = vkt_relu(n->g, vkt_linear(n->g, h, 8, true, "fc1"));
    n->loss = vkt_softmax_cross_entropy(n->g, vkt_linear(n->g, h, CLASSES, true, "fc"), y, 0.0f);
    assert_int_equal(vkt_graph_status(n->g), VKT_OK);
    tu_fill_uniform(n->x, sizeof n->x / sizeof n->x[0], 8, -1, 1);
    for (int i = 0; i < BATCH; i++)
        n->y[i] = i % CLASSES;
}

static void net_free(net *n)
{
    vkt_graph_destroy(n->g);
    vkt_context_destroy(n->ctx);
}

/* clip > 0 keeps every gradient in the trainer's buffer for the test to
 * read (1e30: the clipping scale is exactly 1). */
static vkt_trainer *channels_trainer_clip(net *n, float fraction, vkt_optimizer_kind kind, float clip)
{
    vkt_trainable_set set = {.policy = VKT_TRAIN_CHANNELS, .fraction = fraction};
    vkt_trainer_options to = {.trainable = &set, .batch_size = BATCH,
                              .optimizer = {.kind = kind, .lr = 0.05f, .momentum = 0.9f, .weight_decay = 0.01f,
                                            .clip_grad_norm = clip}};
    vkt_trainer *tr = NULL;
    vkt_status st = vkt_trainer_create(n->ctx, n->g, n->loss, &to, &tr);
    if (st != VKT_OK)
        fail_msg("trainer_create: %s (%s)", vkt_status_name(st), vkt_last_error());
    return tr;
}

static vkt_trainer *channels_trainer(net *n, float fraction, vkt_optimizer_kind kind)
{
    return channels_trainer_clip(n, fraction, kind, 0.0f);
}

static int param_index(const vkt_graph *g, const char *name)
{
    for (int i = 0; i < g->param_count; i++)
        if (strcmp(g->params[i].name, name) == 0)
            return i;
    fail_msg("no parameter %s", name);
    return -1;
}

static const int32_t *rows_of(const vkt_trainer *tr, int p)
{
    return (const int32_t *)((const char *)tr->rows.index + tr->rows.index_offset[p]);
}

/* Rows with the largest L2 norm, ascending; at least one; only linear
 * and ungrouped conv weights; fraction 1 trains everything. */
static void test_selection(void **state)
{
    (void)state;
    net n;
    net_make(&n);
    int c1 = param_index(n.g, "c1.weight"), fc = param_index(n.g, "fc1.weight");
    float *w = n.g->params[c1].data; /* 6 rows of 18: row r scaled so norms order 4 > 1 > 5 > ... */
    const float scale[6] = {0.1f, 3.0f, 0.2f, 0.3f, 5.0f, 2.0f};
    for (int r = 0; r < 6; r++)
        for (int j = 0; j < 18; j++)
            w[r * 18 + j] = scale[r] * (j % 2 ? 1.0f : -1.0f);
    vkt_trainer *tr = channels_trainer(&n, 0.5f, VKT_OPT_SGD);
    assert_int_equal(tr->rows.rows_k[c1], 3);
    const int32_t *sel = rows_of(tr, c1);
    assert_int_equal(sel[0], 1);
    assert_int_equal(sel[1], 4);
    assert_int_equal(sel[2], 5);
    assert_int_equal(tr->rows.rows_k[fc], 4); /* ceil(0.5 * 8) */
    assert_int_equal(tr->rows.rows_k[param_index(n.g, "fc.weight")], 0); /* the classifier */
    assert_int_equal(tr->rows.rows_k[param_index(n.g, "dw.weight")], 0); /* depthwise: trained in full */
    assert_int_equal(tr->rows.rows_k[param_index(n.g, "c1.bias")], 0);
    for (int i = 0; i < n.g->param_count; i++)
        assert_int_equal(tr->trainable[i], !n.g->params[i].is_state);
    vkt_trainer_destroy(tr);
    tr = channels_trainer(&n, 0.01f, VKT_OPT_SGD);
    assert_int_equal(tr->rows.rows_k[c1], 1);
    assert_int_equal(rows_of(tr, c1)[0], 4);
    vkt_trainer_destroy(tr);
    tr = channels_trainer(&n, 1.0f, VKT_OPT_SGD);
    assert_int_equal(tr->rows.rows_k[c1], 0);
    assert_int_equal(tr->rows.index_bytes, 0);
    vkt_trainer_destroy(tr);
    net_free(&n);
}

/* After one step the trainer's gradient buffer holds that step's
 * gradients: each compact row equals the same row of full backprop. */
static void test_gradients_equal_full_backprop(void **state)
{
    (void)state;
    net n;
    net_make(&n);
    const void *in[2] = {n.x, n.y};
    grad_result full;
    assert_int_equal(gh_run_trainable(n.ctx->backend, n.g, n.loss, BATCH, in, NULL, &full), 0);
    vkt_trainer *tr = channels_trainer_clip(&n, 0.5f, VKT_OPT_SGD, 1e30f);
    assert_int_equal(vkt_trainer_step(tr, in, BATCH), VKT_OK);
    float *grads = malloc(tr->grads_bytes);
    rt_download(tr->be, tr->grads, 0, grads, tr->grads_bytes);
    int partial = 0;
    for (int i = 0; i < n.g->param_count; i++) {
        const param *p = &n.g->params[i];
        if (!tr->trainable[i])
            continue;
        const float *g = grads + tr->grad_offset[i] / 4;
        int k = tr->rows.rows_k[i];
        if (!k) {
            if (memcmp(g, full.param_grads[i], p->numel * 4) != 0)
                fail_msg("gradient of %s differs from full backprop", p->name);
            continue;
        }
        partial++;
        size_t width = p->numel / (size_t)p->dims[0];
        for (int r = 0; r < k; r++)
            if (memcmp(g + (size_t)r * width, full.param_grads[i] + (size_t)rows_of(tr, i)[r] * width, width * 4) != 0)
                fail_msg("row %d of %s differs from full backprop", rows_of(tr, i)[r], p->name);
    }
    assert_int_equal(partial, 2);
    free(grads);
    gh_free(n.g, &full);
    vkt_trainer_destroy(tr);
    net_free(&n);
}

static void train_and_check_rows(vkt_optimizer_kind kind)
{
    net n;
    net_make(&n);
    int c1 = param_index(n.g, "c1.weight"), fc = param_index(n.g, "fc1.weight");
    float before_c1[6 * 18], before_fc[8 * 6];
    memcpy(before_c1, n.g->params[c1].data, sizeof before_c1);
    memcpy(before_fc, n.g->params[fc].data, sizeof before_fc);
    vkt_trainer *tr = channels_trainer(&n, 0.34f, kind);
    const void *in[2] = {n.x, n.y};
    for (int s = 0; s < 4; s++)
        assert_int_equal(vkt_trainer_step(tr, in, BATCH), VKT_OK);
    assert_int_equal(vkt_trainer_sync_weights(tr), VKT_OK);
    struct { int p; const float *before; } ws[2] = {{c1, before_c1}, {fc, before_fc}};
    for (int w = 0; w < 2; w++) {
        const param *p = &n.g->params[ws[w].p];
        size_t rows = (size_t)p->dims[0], width = p->numel / rows;
        int k = tr->rows.rows_k[ws[w].p];
        assert_true(k > 0 && (size_t)k < rows);
        for (size_t r = 0; r < rows; r++) {
            bool trained = false;
            for (int t = 0; t < k; t++)
                trained |= (size_t)rows_of(tr, ws[w].p)[t] == r;
            bool same = memcmp(p->data + r * width, ws[w].before + r * width, width * 4) == 0;
            if (trained == same)
                fail_msg("%s row %zu: %s", p->name, r, trained ? "trained but unchanged" : "frozen but changed");
        }
    }
    vkt_memory_report m;
    assert_int_equal(vkt_trainer_memory(tr, &m), VKT_OK);
    size_t want = 0;
    for (int i = 0; i < n.g->param_count; i++)
        if (tr->trainable[i])
            want += trainer_state_numel(tr, i) * 4;
    assert_int_equal(m.trained_params * 4, want);
    assert_true(want < vkt_graph_trainable_numel(n.g) * 4);
    vkt_trainer_destroy(tr);
    net_free(&n);
}

static void test_frozen_rows_stay_sgd(void **state)
{
    (void)state;
    train_and_check_rows(VKT_OPT_SGD);
}

static void test_frozen_rows_stay_adamw(void **state)
{
    (void)state;
    train_and_check_rows(VKT_OPT_ADAMW);
}

/* The weight gradients of partial layers are GEMMs over the trained
 * rows only (M = k), fed by a gather of dY's channels. */
static void test_gemm_rows_shrink(void **state)
{
    (void)state;
    net n;
    net_make(&n);
    vkt_trainer *tr = channels_trainer(&n, 0.5f, VKT_OPT_SGD);
    const plan *pl = gh_training_plan(tr);
    int gathers = 0, scatters = 0, dw_gemms = 0;
    for (int i = 0; i < pl->launch_count; i++) {
        const plan_launch *l = &pl->launches[i];
        gathers += l->kernel == RT_K_GATHER_ROWS;
        scatters += l->kernel == RT_K_SCATTER_ROWS;
        int p = l->kernel == RT_K_GEMM ? slot_param_grad(&pl->slots[l->args[2].slot]) : -1;
        if (p < 0)
            continue;
        int k = tr->rows.rows_k[p];
        if (k) {
            dw_gemms++;
            assert_int_equal(l->params.i[0], k);
        }
    }
    assert_int_equal(dw_gemms, 2);
    assert_int_equal(gathers, 4);  /* dY channels and the weight rows, per partial weight */
    assert_int_equal(scatters, 2); /* updated rows back into the weights */
    vkt_trainer_destroy(tr);
    net_free(&n);
}

static void test_checkpoint(void **state)
{
    (void)state;
    char path[] = "/tmp/vkt_channels_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const void *x_y[2];
    /* Reference: 6 uninterrupted steps. */
    net a;
    net_make(&a);
    x_y[0] = a.x, x_y[1] = a.y;
    vkt_trainer *ta = channels_trainer(&a, 0.5f, VKT_OPT_ADAMW);
    for (int s = 0; s < 6; s++)
        assert_int_equal(vkt_trainer_step(ta, x_y, BATCH), VKT_OK);
    vkt_trainer_sync_weights(ta);
    /* 3 steps, checkpoint, a new trainer resumes for 3 more. */
    net b;
    net_make(&b);
    vkt_trainer *tb = channels_trainer(&b, 0.5f, VKT_OPT_ADAMW);
    for (int s = 0; s < 3; s++)
        assert_int_equal(vkt_trainer_step(tb, x_y, BATCH), VKT_OK);
    assert_int_equal(vkt_trainer_save_checkpoint(tb, path, NULL, 0), VKT_OK);
    vkt_trainer_destroy(tb);
    net_free(&b);
    net_make(&b);
    tb = channels_trainer(&b, 0.5f, VKT_OPT_ADAMW);
    assert_int_equal(vkt_trainer_load_checkpoint(tb, path, NULL, NULL), VKT_OK);
    for (int s = 0; s < 3; s++)
        assert_int_equal(vkt_trainer_step(tb, x_y, BATCH), VKT_OK);
    vkt_trainer_sync_weights(tb);
    for (int i = 0; i < a.g->param_count; i++)
        assert_memory_equal(a.g->params[i].data, b.g->params[i].data, a.g->params[i].numel * 4);
    vkt_trainer_destroy(tb);
    /* Another selection refuses the file, and changes nothing. */
    vkt_trainer *other = channels_trainer(&b, 0.25f, VKT_OPT_ADAMW);
    assert_int_equal(vkt_trainer_load_checkpoint(other, path, NULL, NULL), VKT_ERR_INVALID_ARG);
    assert_non_null(strstr(vkt_last_error(), "other channels"));
    vkt_trainer_destroy(other);
    vkt_trainer_destroy(ta);
    net_free(&a);
    net_free(&b);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_gradients_equal_full_backprop),
        cmocka_unit_test(test_frozen_rows_stay_sgd),
        cmocka_unit_test(test_frozen_rows_stay_adamw),
        cmocka_unit_test(test_gemm_rows_shrink),
        cmocka_unit_test(test_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
