#include "profile_harness.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/context.h"
#include "grad_harness.h"
#include "src/train/trainer_internal.h"
#include "test_util.h"

#define BATCH 4
#define SIDE 8
#define CLASSES 3

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- backend level ---- */

#define GM 4
#define GN 4
#define GK 2048
#define GB 16

void ph_check_backend_profile(rt_backend *be)
{
    size_t na = (size_t)GB * GM * GK, nb = (size_t)GB * GK * GN;
    rt_buffer *a, *b, *c, *d;
    assert_int_equal(rt_buffer_create(be, na * 4, &a), VKT_OK);
    assert_int_equal(rt_buffer_create(be, nb * 4, &b), VKT_OK);
    assert_int_equal(rt_buffer_create(be, GM * GN * 4, &c), VKT_OK);
    assert_int_equal(rt_buffer_create(be, GM * GN * 4, &d), VKT_OK);
    rt_launch l[4];
    memset(l, 0, sizeof l);
    l[0] = (rt_launch){.kernel = RT_K_FILL, .nargs = 1, .args = {{a, 0, na * 4}}};
    l[0].params.i[0] = (int)na, l[0].params.f[0] = 1.0f;
    l[1] = (rt_launch){.kernel = RT_K_FILL, .nargs = 1, .args = {{b, 0, nb * 4}}};
    l[1].params.i[0] = (int)nb, l[1].params.f[0] = 0.5f;
    /* C = sum over the batch of A_b B_b: every element GB * GK * 0.5. */
    l[2] = (rt_launch){.kernel = RT_K_GEMM, .nargs = 3, .args = {{a, 0, na * 4}, {b, 0, nb * 4}, {c, 0, GM * GN * 4}}};
    int32_t *gi = l[2].params.i;
    gi[0] = GM, gi[1] = GN, gi[2] = GK, gi[5] = GK, gi[6] = GN, gi[7] = GN;
    gi[8] = GB, gi[9] = GM * GK, gi[10] = GK * GN, gi[14] = 1;
    l[3] = (rt_launch){.kernel = RT_K_COPY, .nargs = 2, .args = {{c, 0, GM * GN * 4}, {d, 0, GM * GN * 4}}};
    l[3].params.i[0] = GM * GN;
    rt_program *prog;
    assert_int_equal(rt_program_create(be, l, 4, &prog), VKT_OK);

    for (int round = 0; round < 2; round++) { /* the second reuses the recorded profiling */
        uint64_t ns[4] = {0, 0, 0, 0};
        uint64_t start = now_ns();
        assert_int_equal(rt_program_profile(be, prog, ns), VKT_OK);
        uint64_t wall = now_ns() - start, sum = 0;
        for (int i = 0; i < 4; i++) {
            assert_true(ns[i] > 0);
            sum += ns[i];
        }
        assert_true(sum <= wall);
        float out[GM * GN];
        rt_upload(be, d, 0, (float[GM * GN]){0}, sizeof out);
        assert_int_equal(rt_program_profile(be, prog, ns), VKT_OK);
        assert_int_equal(rt_download(be, d, 0, out, sizeof out), VKT_OK);
        for (int i = 0; i < GM * GN; i++)
            assert_true(out[i] == GB * GK * 0.5f);
    }
    /* An ordinary run after profiling computes the same, and on Vulkan
     * is still one submit that the host does not wait for. */
    float out[GM * GN];
    rt_upload(be, d, 0, (float[GM * GN]){0}, sizeof out);
    rt_backend_stats before = be->stats;
    assert_int_equal(rt_program_run(be, prog), VKT_OK);
    assert_int_equal(be->stats.programs_run - before.programs_run, 1);
    if (strcmp(be->ops->name, "vulkan") == 0) {
        assert_int_equal(be->stats.submits - before.submits, 1);
        assert_int_equal(be->stats.host_waits - before.host_waits, 0);
    }
    assert_int_equal(rt_download(be, d, 0, out, sizeof out), VKT_OK);
    for (int i = 0; i < GM * GN; i++)
        assert_true(out[i] == GB * GK * 0.5f);
    rt_program_destroy(be, prog);
    rt_buffer_destroy(be, a);
    rt_buffer_destroy(be, b);
    rt_buffer_destroy(be, c);
    rt_buffer_destroy(be, d);
}

/* ---- trainer level ---- */

typedef struct net {
    vkt_graph *g;
    vkt_trainer *tr;
} net;

static void net_make(net *m, vkt_context *ctx, const ph_config *c)
{
    assert_int_equal(vkt_graph_create(17, &m->g), VKT_OK);
    int dims[3] = {1, SIDE, SIDE};
    vkt_tensor x = vkt_input(m->g, "x", VKT_F32, 3, dims);
    vkt_tensor y = vkt_input(m->g, "y", VKT_I32, 0, NULL);
    vkt_conv2d_params conv = {.out_channels = 4, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};
    vkt_tensor h = vkt_relu(m->g, vkt_batch_norm(m->g, vkt_conv2d(m->g, x, &conv, "0"), 1e-5f, 0.1f, "1"));
    vkt_pool2d_params pool = {.kernel_h = 2, .kernel_w = 2};
    h = vkt_max_pool2d(m->g, h, &pool);
    /* Depthwise conv -> bn -> relu6 -> global pool: the layers that
     * recomputation redoes in backward. */
    vkt_conv2d_params dw = {.out_channels = 4, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .groups = 4};
    h = vkt_batch_norm(m->g, vkt_conv2d(m->g, h, &dw, "4"), 1e-5f, 0.1f, "5");
    h = vkt_activation_op(m->g, h, VKT_ACT_RELU6);
    vkt_tensor logits = vkt_linear(m->g, vkt_global_avg_pool(m->g, h), CLASSES, true, "7");
    vkt_tensor loss = vkt_softmax_cross_entropy(m->g, logits, y, 0.0f);
    assert_int_equal(vkt_graph_status(m->g), VKT_OK);
    vkt_trainable_set set;
    assert_int_equal(vkt_trainable_parse(c->policy, &set), VKT_OK);
    vkt_trainer_options to = {.trainable = &set, .batch_size = BATCH, .fp16_activations = c->fp16,
                              .recompute = c->recompute,
                              .optimizer = {.kind = VKT_OPT_ADAMW, .lr = 0.01f, .clip_grad_norm = c->clip ? 5.0f : 0}};
    if (vkt_trainer_create(ctx, m->g, loss, &to, &m->tr) != VKT_OK)
        fail_msg("trainer: %s", vkt_last_error());
    m->tr->force_recompute = c->recompute; /* even where it would not pay; before any plan */
}

static void net_free(net *m)
{
    vkt_trainer_destroy(m->tr);
    vkt_graph_destroy(m->g);
}

/* Launches of kernel k that run in backward. */
static int backward_launches(const plan *pl, rt_kernel k)
{
    int n = 0;
    for (int i = 0; i < pl->launch_count; i++)
        n += pl->launches[i].kernel == k && pl->launches[i].phase == PLAN_BACKWARD;
    return n;
}

static const vkt_op_time *find_op(const vkt_op_time *ops, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ops[i].name, name) == 0)
            return &ops[i];
    fail_msg("no profile entry for '%s'", name);
    return NULL;
}

static void check_grouping(const vkt_step_profile *s, const vkt_op_time *ops, int n, bool clip)
{
    assert_int_equal(s->forward_ns + s->backward_ns + s->optimizer_ns, s->total_ns);
    assert_true(s->total_ns > 0 && s->total_ns <= s->wall_ns);
    uint64_t sum = s->other_ns;
    int launches = s->other_launches;
    for (int i = 0; i < n; i++) {
        assert_true(ops[i].launches > 0);
        assert_true(ops[i].forward_ns + ops[i].backward_ns + ops[i].optimizer_ns > 0);
        assert_non_null(ops[i].op);
        assert_non_null(ops[i].name);
        assert_true(i == 0 || ops[i].node > ops[i - 1].node);
        sum += ops[i].forward_ns + ops[i].backward_ns + ops[i].optimizer_ns;
        launches += ops[i].launches;
    }
    assert_int_equal(sum, s->total_ns);
    assert_int_equal(launches, s->launches);
    assert_int_equal(s->other_launches, clip ? 1 : 0); /* gradient-norm clipping */
}

/* Which layers have gradients and updates under each policy. */
static void check_policy(const char *policy, const vkt_op_time *ops, int n)
{
    const vkt_op_time *c0 = find_op(ops, n, "0"), *bn = find_op(ops, n, "1"), *dw = find_op(ops, n, "4"),
                      *fc = find_op(ops, n, "7");
    assert_string_equal(c0->op, "conv2d");
    assert_string_equal(bn->op, "batch_norm");
    assert_string_equal(fc->op, "linear");
    bool relu6 = false;
    for (int i = 0; i < n; i++)
        relu6 |= strcmp(ops[i].op, "relu6") == 0 && ops[i].name[0] == '\0';
    assert_true(relu6);
    assert_true(c0->forward_ns > 0 && fc->forward_ns > 0 && fc->backward_ns > 0 && fc->optimizer_ns > 0);
    if (strcmp(policy, "full") == 0) {
        assert_true(c0->backward_ns > 0 && c0->optimizer_ns > 0 && dw->optimizer_ns > 0 && bn->optimizer_ns > 0);
    } else if (strcmp(policy, "bias") == 0) {
        assert_true(c0->optimizer_ns > 0 && bn->optimizer_ns > 0 && find_op(ops, n, "5")->optimizer_ns > 0);
        assert_true(dw->backward_ns > 0 && dw->optimizer_ns == 0); /* no bias, but passes gradients down */
    } else if (strcmp(policy, "last:1") == 0) {
        /* Backward stops at the last layer: nothing below runs it. */
        assert_true(c0->backward_ns == 0 && c0->optimizer_ns == 0 && dw->backward_ns == 0 && bn->backward_ns == 0);
    }
}

static vkt_context *open_context(const char *device)
{
    setenv("VKT_VULKAN_VALIDATION", "1", 1);
    vkt_context *ctx;
    vkt_context_options co = {device, 2};
    if (vkt_context_create(&co, &ctx) != VKT_OK)
        fail_msg("context %s: %s", device, vkt_last_error());
    return ctx;
}

static void check_no_validation_messages(vkt_context *ctx)
{
#ifdef VKT_HAVE_VULKAN
    const char *first = NULL;
    if (strcmp(ctx->backend->ops->name, "vulkan") == 0 && rt_vulkan_validation_messages(ctx->backend, &first))
        fail_msg("validation: %s", first);
#else
    (void)ctx;
#endif
}

void ph_check_trainer_profile(const char *device, ph_config c)
{
    vkt_context *ctx = open_context(device);
    vkt_context_info info;
    assert_int_equal(vkt_context_get_info(ctx, &info), VKT_OK);
    assert_true(info.launch_timing);
    net a, b; /* a profiles its steps, b steps normally: same updates */
    net_make(&a, ctx, &c);
    net_make(&b, ctx, &c);
    float x[BATCH * SIDE * SIDE];
    int32_t y[BATCH] = {0, 1, 2, 1};
    tu_fill_uniform(x, BATCH * SIDE * SIDE, 9, -1, 1);
    const void *in[2] = {x, y};
    vkt_op_time ops[32];
    for (int step = 0; step < 2; step++) {
        vkt_step_profile s;
        int n = -1;
        if (vkt_trainer_profile_step(a.tr, in, BATCH, &s, ops, 32, &n) != VKT_OK)
            fail_msg("profile step: %s", vkt_last_error());
        assert_int_equal(vkt_trainer_step(b.tr, in, BATCH), VKT_OK);
        assert_int_equal(s.launches, gh_training_plan(a.tr)->launch_count);
        assert_true(n > 4 && n <= 32);
        check_grouping(&s, ops, n, c.clip);
        check_policy(c.policy, ops, n);
    }
    assert_int_equal(vkt_trainer_step_count(a.tr), 2);
    /* The extra launches exist, and check_grouping counted them. */
    const plan *pl = gh_training_plan(a.tr);
    if (c.fp16)
        assert_true(gh_count_kernels(pl, RT_K_PACK_F16) > 0 && gh_count_kernels(pl, RT_K_UNPACK_F16) > 0);
    if (c.recompute) /* activations run again in backward */
        assert_true(backward_launches(pl, RT_K_ACT_FWD) > 0);

    /* Fewer entries than nodes: the count still says how many. */
    vkt_step_profile s;
    int n = 0;
    assert_int_equal(vkt_trainer_profile_step(a.tr, in, BATCH, &s, ops, 2, &n), VKT_OK);
    assert_true(n > 2);
    assert_int_equal(vkt_trainer_profile_step(a.tr, in, BATCH, &s, NULL, 0, NULL), VKT_OK);
    assert_int_equal(vkt_trainer_profile_step(a.tr, in, BATCH, &s, NULL, 3, &n), VKT_ERR_INVALID_ARG);
    assert_int_equal(vkt_trainer_profile_step(a.tr, in, BATCH + 1, &s, NULL, 0, NULL), VKT_ERR_INVALID_ARG);
    for (int k = 0; k < 2; k++)
        assert_int_equal(vkt_trainer_step(b.tr, in, BATCH), VKT_OK);

    /* After profiling, a step is again one submit. */
    rt_backend_stats before = ctx->backend->stats;
    assert_int_equal(vkt_trainer_step(a.tr, in, BATCH), VKT_OK);
    assert_int_equal(vkt_trainer_step(b.tr, in, BATCH), VKT_OK);
    if (strcmp(ctx->backend->ops->name, "vulkan") == 0)
        assert_int_equal(ctx->backend->stats.submits - before.submits, 2);

    int np = vkt_graph_param_count(a.g);
    assert_int_equal(vkt_trainer_sync_weights(a.tr), VKT_OK);
    assert_int_equal(vkt_trainer_sync_weights(b.tr), VKT_OK);
    for (int i = 0; i < np; i++) {
        vkt_param_info pi;
        vkt_graph_param_info(a.g, i, &pi);
        float *wa = malloc(pi.numel * 4), *wb = malloc(pi.numel * 4);
        assert_int_equal(vkt_graph_param_get(a.g, pi.name, wa, pi.numel), VKT_OK);
        assert_int_equal(vkt_graph_param_get(b.g, pi.name, wb, pi.numel), VKT_OK);
        if (memcmp(wa, wb, pi.numel * 4) != 0)
            fail_msg("%s differs between profiled and ordinary steps", pi.name);
        free(wa);
        free(wb);
    }
    net_free(&a);
    net_free(&b);
    check_no_validation_messages(ctx);
    vkt_context_destroy(ctx);
}
