/* Model weights as safetensors: a PyTorch state_dict loads as is and
 * reproduces PyTorch's loss; save/load round trip; shape mismatches,
 * missing and extra tensors are refused without touching the graph. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/vktrain.h>

#include "src/io/safetensors.h"
#include "test_util.h"

static char *fixture(const char *name)
{
    size_t n = strlen(VKT_TEST_DATA_DIR) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", VKT_TEST_DATA_DIR, name);
    return p;
}

/* nn.Sequential(Linear(4,5), BatchNorm1d(5), ReLU(), Linear(5,3)) */
static vkt_graph *torch_like_mlp(vkt_tensor *loss, int hidden)
{
    vkt_graph *g;
    assert_int_equal(vkt_graph_create(9, &g), VKT_OK);
    int d4 = 4, d3 = 3;
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 1, &d4);
    vkt_tensor t = vkt_input(g, "t", VKT_F32, 1, &d3);
    vkt_tensor h = vkt_linear(g, x, hidden, true, "0");
    h = vkt_batch_norm(g, h, 1e-5f, 0.1f, "1");
    h = vkt_relu(g, h);
    *loss = vkt_mse_loss(g, vkt_linear(g, h, 3, true, "3"), t);
    assert_int_equal(vkt_graph_status(g), VKT_OK);
    return g;
}

static void test_torch_state_dict_loads_and_matches(void **state)
{
    (void)state;
    vkt_tensor loss;
    vkt_graph *g = torch_like_mlp(&loss, 5);
    char *path = fixture("torch_mlp.safetensors"), *expected = fixture("torch_mlp_expected.safetensors");
    assert_int_equal(vkt_graph_load_safetensors(g, path, false), VKT_OK);
    float count;
    assert_int_equal(vkt_graph_param_get(g, "1.num_batches_tracked", &count, 1), VKT_OK);
    assert_true(count == 3.0f);

    st_file *f;
    assert_int_equal(st_read(expected, &f), VKT_OK);
    float x[24], t[18], want;
    assert_int_equal(st_tensor_to_f32(st_find(f, "x"), x, 24), VKT_OK);
    assert_int_equal(st_tensor_to_f32(st_find(f, "t"), t, 18), VKT_OK);
    assert_int_equal(st_tensor_to_f32(st_find(f, "loss"), &want, 1), VKT_OK);
    st_free(f);

    vkt_context *ctx;
    vkt_context_options co = {"cpu", 2};
    assert_int_equal(vkt_context_create(&co, &ctx), VKT_OK);
    vkt_trainer *tr;
    vkt_trainer_options to = {.batch_size = 6, .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.1f}};
    assert_int_equal(vkt_trainer_create(ctx, g, loss, &to, &tr), VKT_OK);
    const void *in[2] = {x, t};
    assert_int_equal(vkt_trainer_eval_batch(tr, in, 6), VKT_OK);
    vkt_metrics m;
    assert_int_equal(vkt_trainer_read_eval_metrics(tr, &m), VKT_OK);
    if (fabs(m.loss_mean - want) > 1e-5)
        fail_msg("eval loss %.7f, PyTorch says %.7f", m.loss_mean, (double)want);
    vkt_trainer_destroy(tr);
    vkt_context_destroy(ctx);
    vkt_graph_destroy(g);
    free(path);
    free(expected);
}

static void test_round_trip(void **state)
{
    (void)state;
    vkt_tensor loss;
    vkt_graph *a = torch_like_mlp(&loss, 5), *b;
    assert_int_equal(vkt_graph_create(1234, &b), VKT_OK);
    vkt_graph_destroy(b);
    b = torch_like_mlp(&loss, 5);
    float c = 17;
    assert_int_equal(vkt_graph_param_set(a, "1.num_batches_tracked", &c, 1), VKT_OK);
    float w[20];
    tu_fill_uniform(w, 20, 3, -1, 1);
    assert_int_equal(vkt_graph_param_set(a, "0.weight", w, 20), VKT_OK);
    char *path = tu_temp_path("roundtrip.safetensors");
    assert_int_equal(vkt_graph_save_safetensors(a, path), VKT_OK);
    assert_int_equal(vkt_graph_load_safetensors(b, path, false), VKT_OK);
    for (int i = 0; i < vkt_graph_param_count(a); i++) {
        vkt_param_info info;
        vkt_graph_param_info(a, i, &info);
        float *va = malloc(info.numel * 4), *vb = malloc(info.numel * 4);
        vkt_graph_param_get(a, info.name, va, info.numel);
        vkt_graph_param_get(b, info.name, vb, info.numel);
        assert_memory_equal(va, vb, info.numel * 4);
        free(va), free(vb);
    }
    /* The counter is stored as PyTorch stores it: I64, shape []. */
    st_file *f;
    assert_int_equal(st_read(path, &f), VKT_OK);
    const st_tensor *t = st_find(f, "1.num_batches_tracked");
    assert_non_null(t);
    assert_int_equal(t->dtype, ST_I64);
    assert_int_equal(t->rank, 0);
    st_free(f);
    free(path);
    vkt_graph_destroy(a);
    vkt_graph_destroy(b);
}

static void expect_untouched_failure(vkt_graph *g, const char *path, bool allow_extra, vkt_status want,
                                     const char *needle)
{
    float before[3], after[3]; /* "3.bias" has this size in every variant */
    assert_int_equal(vkt_graph_param_get(g, "3.bias", before, 3), VKT_OK);
    assert_int_equal(vkt_graph_load_safetensors(g, path, allow_extra), want);
    if (needle && !strstr(vkt_last_error(), needle))
        fail_msg("error '%s' does not mention '%s'", vkt_last_error(), needle);
    assert_int_equal(vkt_graph_param_get(g, "3.bias", after, 3), VKT_OK);
    assert_memory_equal(before, after, sizeof before);
}

static void test_mismatches_refused(void **state)
{
    (void)state;
    vkt_tensor loss;
    vkt_graph *wide = torch_like_mlp(&loss, 6), *small = torch_like_mlp(&loss, 5);
    char *torch = fixture("torch_mlp.safetensors");
    expect_untouched_failure(wide, torch, false, VKT_ERR_SHAPE, "0.weight");

    /* A file missing a tensor, and one with an extra tensor. */
    char *missing = tu_temp_path("missing.safetensors"), *extra = tu_temp_path("extra.safetensors");
    float w[20] = {0}, bias[5] = {0}, more[2] = {1, 2};
    int64_t wshape[2] = {5, 4}, bshape[1] = {5}, mshape[1] = {2};
    st_entry only[2] = {{"0.weight", ST_F32, 2, wshape, w}, {"0.bias", ST_F32, 1, bshape, bias}};
    assert_int_equal(st_write(missing, only, 2, NULL, 0), VKT_OK);
    expect_untouched_failure(small, missing, false, VKT_ERR_NOT_FOUND, "1.weight");

    assert_int_equal(vkt_graph_save_safetensors(small, extra), VKT_OK);
    st_file *f;
    assert_int_equal(st_read(extra, &f), VKT_OK);
    st_entry *all = calloc((size_t)f->count + 1, sizeof *all);
    for (int i = 0; i < f->count; i++)
        all[i] = (st_entry){f->tensors[i].name, f->tensors[i].dtype, f->tensors[i].rank, f->tensors[i].shape,
                            f->tensors[i].data};
    all[f->count] = (st_entry){"9.weight", ST_F32, 1, mshape, more};
    char *extra2 = tu_temp_path("extra2.safetensors");
    assert_int_equal(st_write(extra2, all, f->count + 1, NULL, 0), VKT_OK);
    free(all);
    st_free(f);
    expect_untouched_failure(small, extra2, false, VKT_ERR_FORMAT, "9.weight");
    assert_int_equal(vkt_graph_load_safetensors(small, extra2, true), VKT_OK);

    /* A corrupt file and a missing file. */
    char *corrupt = tu_temp_path("corrupt.safetensors");
    assert_int_equal(tu_write_file(corrupt, "\x10\0\0\0\0\0\0\0{\"a\":", 13), 0);
    expect_untouched_failure(small, corrupt, false, VKT_ERR_FORMAT, NULL);
    expect_untouched_failure(small, "/nonexistent/dir/w.safetensors", false, VKT_ERR_IO, NULL);

    /* Saving into a missing directory fails and leaves no file. */
    assert_int_equal(vkt_graph_save_safetensors(small, "/nonexistent/dir/out.safetensors"), VKT_ERR_IO);
    free(torch), free(missing), free(extra), free(extra2), free(corrupt);
    vkt_graph_destroy(wide);
    vkt_graph_destroy(small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch_state_dict_loads_and_matches),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_mismatches_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
