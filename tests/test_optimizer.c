/* Optimizers through the whole trainer, against values computed here by
 * hand with torch.optim's update rules (in double), and the learning-rate
 * schedules. Model: y = W x (1x2, no bias), loss = (y - t)^2, so the
 * gradient is 2 (y - t) x. */
#include <math.h>
#include <string.h>

#include <vktrain/vktrain.h>

#include "src/train/optimizer.h"
#include "test_util.h"

static const float X[2] = {0.5f, -1.5f};
static const float T = 0.25f;

typedef struct tiny {
    vkt_context *ctx;
    vkt_graph *g;
    vkt_trainer *tr;
} tiny;

static void tiny_make(tiny *m, const vkt_optimizer_config *opt, const float w0[2])
{
    vkt_context_options co = {"cpu", 1};
    assert_int_equal(vkt_context_create(&co, &m->ctx), VKT_OK);
    assert_int_equal(vkt_graph_create(1, &m->g), VKT_OK);
    int d2 = 2, d1 = 1;
    vkt_tensor x = vkt_input(m->g, "x", VKT_F32, 1, &d2);
    vkt_tensor t = vkt_input(m->g, "t", VKT_F32, 1, &d1);
    vkt_tensor loss = vkt_mse_loss(m->g, vkt_linear(m->g, x, 1, false, "fc"), t);
    assert_int_equal(vkt_graph_param_set(m->g, "fc.weight", w0, 2), VKT_OK);
    vkt_trainer_options to = {.optimizer = *opt, .batch_size = 1};
    assert_int_equal(vkt_trainer_create(m->ctx, m->g, loss, &to, &m->tr), VKT_OK);
}

static void tiny_step(tiny *m, float w[2])
{
    const void *in[2] = {X, &T};
    assert_int_equal(vkt_trainer_step(m->tr, in, 1), VKT_OK);
    assert_int_equal(vkt_trainer_sync_weights(m->tr), VKT_OK);
    assert_int_equal(vkt_graph_param_get(m->g, "fc.weight", w, 2), VKT_OK);
}

static void tiny_free(tiny *m)
{
    vkt_trainer_destroy(m->tr);
    vkt_graph_destroy(m->g);
    vkt_context_destroy(m->ctx);
}

static void grad_of(const double w[2], double g[2])
{
    double y = w[0] * X[0] + w[1] * X[1];
    g[0] = 2 * (y - T) * X[0];
    g[1] = 2 * (y - T) * X[1];
}

static void expect_close(const float *got, const double *want, int step)
{
    for (int i = 0; i < 2; i++)
        if (fabs(got[i] - want[i]) > 1e-6 * fmax(1, fabs(want[i])))
            fail_msg("step %d weight %d: got %.9g, want %.9g", step, i, got[i], want[i]);
}

static void run_sgd(float momentum, float dampening, bool nesterov, float wd, float clip)
{
    vkt_optimizer_config opt = {.kind = VKT_OPT_SGD, .lr = 0.1f, .momentum = momentum, .dampening = dampening,
                                .nesterov = nesterov, .weight_decay = wd, .clip_grad_norm = clip};
    const float w0[2] = {0.3f, -0.2f};
    tiny m;
    tiny_make(&m, &opt, w0);
    double w[2] = {w0[0], w0[1]}, buf[2] = {0, 0};
    for (int step = 1; step <= 4; step++) {
        double g[2];
        grad_of(w, g);
        if (clip > 0) {
            double norm = sqrt(g[0] * g[0] + g[1] * g[1]), coef = clip / (norm + 1e-6);
            if (coef < 1)
                g[0] *= coef, g[1] *= coef;
        }
        for (int i = 0; i < 2; i++) {
            double d = g[i] + wd * w[i];
            if (momentum > 0) {
                buf[i] = step == 1 ? d : momentum * buf[i] + (1 - dampening) * d;
                d = nesterov ? d + momentum * buf[i] : buf[i];
            }
            w[i] -= 0.1 * d;
        }
        float got[2];
        tiny_step(&m, got);
        expect_close(got, w, step);
    }
    tiny_free(&m);
}

static void test_sgd_plain(void **state)
{
    (void)state;
    run_sgd(0, 0, false, 0, 0);
}

static void test_sgd_momentum_weight_decay(void **state)
{
    (void)state;
    run_sgd(0.9f, 0, false, 0.01f, 0);
    run_sgd(0.8f, 0.3f, false, 0, 0);
}

static void test_sgd_nesterov(void **state)
{
    (void)state;
    run_sgd(0.9f, 0, true, 0.05f, 0);
}

static void test_sgd_clipping(void **state)
{
    (void)state;
    run_sgd(0.9f, 0, false, 0, 0.05f);
}

static void test_adamw(void **state)
{
    (void)state;
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
    vkt_optimizer_config opt = {.kind = VKT_OPT_ADAMW, .lr = (float)lr, .weight_decay = (float)wd};
    const float w0[2] = {0.3f, -0.2f};
    tiny m;
    tiny_make(&m, &opt, w0);
    double w[2] = {w0[0], w0[1]}, mm[2] = {0, 0}, v[2] = {0, 0};
    for (int t = 1; t <= 4; t++) {
        double g[2];
        grad_of(w, g);
        for (int i = 0; i < 2; i++) {
            w[i] *= 1 - lr * wd;
            mm[i] = b1 * mm[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
            w[i] -= (lr / bc1) * mm[i] / (sqrt(v[i]) / sqrt(bc2) + eps);
        }
        float got[2];
        tiny_step(&m, got);
        expect_close(got, w, t);
    }
    tiny_free(&m);
}

static void test_schedules(void **state)
{
    (void)state;
    vkt_optimizer_config c = {.kind = VKT_OPT_SGD, .lr = 1.0f};
    c.schedule = (vkt_schedule){.kind = VKT_SCHED_STEP, .step_size = 3, .gamma = 0.5f};
    assert_int_equal(optimizer_config_check(&c), VKT_OK);
    assert_true(fabs(schedule_lr(&c, 0) - 1.0) < 1e-12);
    assert_true(fabs(schedule_lr(&c, 2) - 1.0) < 1e-12);
    assert_true(fabs(schedule_lr(&c, 3) - 0.5) < 1e-7);
    assert_true(fabs(schedule_lr(&c, 7) - 0.25) < 1e-7);

    c.schedule = (vkt_schedule){.kind = VKT_SCHED_COSINE, .warmup_steps = 4, .total_steps = 14, .min_lr = 0.1f};
    assert_int_equal(optimizer_config_check(&c), VKT_OK);
    assert_true(fabs(schedule_lr(&c, 0) - 0.25) < 1e-12);
    assert_true(fabs(schedule_lr(&c, 3) - 1.0) < 1e-12);
    assert_true(fabs(schedule_lr(&c, 4) - 1.0) < 1e-12);
    assert_true(fabs(schedule_lr(&c, 9) - (0.1 + 0.9 * 0.5)) < 1e-6); /* halfway */
    assert_true(fabs(schedule_lr(&c, 14) - 0.1) < 1e-7);
    assert_true(fabs(schedule_lr(&c, 100) - 0.1) < 1e-7);

    c.schedule = (vkt_schedule){.kind = VKT_SCHED_COSINE, .warmup_steps = 5, .total_steps = 2};
    assert_int_equal(optimizer_config_check(&c), VKT_ERR_INVALID_ARG);
    c.schedule = (vkt_schedule){.kind = VKT_SCHED_STEP, .step_size = 0, .gamma = 0.5f};
    assert_int_equal(optimizer_config_check(&c), VKT_ERR_INVALID_ARG);
}

/* The trainer applies the schedule: with plain SGD each step moves the
 * weight by lr_t * grad, so lr_t can be read back from the motion. */
static void test_schedule_drives_steps(void **state)
{
    (void)state;
    vkt_optimizer_config opt = {.kind = VKT_OPT_SGD, .lr = 0.1f};
    opt.schedule = (vkt_schedule){.kind = VKT_SCHED_STEP, .step_size = 1, .gamma = 0.5f};
    const float w0[2] = {0.3f, -0.2f};
    tiny m;
    tiny_make(&m, &opt, w0);
    double w[2] = {w0[0], w0[1]};
    double lr = 0.1;
    for (int step = 1; step <= 3; step++) {
        assert_true(fabs(vkt_trainer_current_lr(m.tr) - lr) < 1e-7);
        double g[2];
        grad_of(w, g);
        w[0] -= lr * g[0], w[1] -= lr * g[1];
        float got[2];
        tiny_step(&m, got);
        expect_close(got, w, step);
        lr *= 0.5;
    }
    tiny_free(&m);
}

static void test_bad_configs(void **state)
{
    (void)state;
    vkt_optimizer_config c = {.kind = VKT_OPT_SGD, .lr = -1};
    assert_int_equal(optimizer_config_check(&c), VKT_ERR_INVALID_ARG);
    c = (vkt_optimizer_config){.kind = VKT_OPT_SGD, .lr = 0.1f, .nesterov = true};
    assert_int_equal(optimizer_config_check(&c), VKT_ERR_INVALID_ARG);
    c = (vkt_optimizer_config){.kind = VKT_OPT_ADAMW, .lr = 0.1f, .beta1 = 1.0f, .beta2 = 0.9f, .eps = 1e-8f};
    assert_int_equal(optimizer_config_check(&c), VKT_ERR_INVALID_ARG);
    c = (vkt_optimizer_config){.kind = (vkt_optimizer_kind)7, .lr = 0.1f};
    assert_int_equal(optimizer_config_check(&c), VKT_ERR_INVALID_ARG);
    assert_true(strlen(vkt_last_error()) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_plain),       cmocka_unit_test(test_sgd_momentum_weight_decay),
        cmocka_unit_test(test_sgd_nesterov),    cmocka_unit_test(test_sgd_clipping),
        cmocka_unit_test(test_adamw),           cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_schedule_drives_steps), cmocka_unit_test(test_bad_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
