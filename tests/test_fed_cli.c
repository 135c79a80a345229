/* The tools end to end, as built: `vktrain train` on the transformer;
 * a tiny `vktrain federate` run improves
 * on the initial model; and one round's packets, saved by federate,
 * give the same model through `vkagg aggregate` (files) and through
 * `vkagg serve` fed by `vkagg send` over loopback (with a garbage
 * packet among them). Skipped without the Fashion-MNIST package. */
#include "test_util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/io/safetensors.h"

#define DATA_DIR "/usr/share/datasets/fashion-mnist"

static const char *vktrain_path, *vkagg_path;

static int have_data(void)
{
    return access(DATA_DIR "/train-images-idx3-ubyte.gz", R_OK) == 0 ||
           access(DATA_DIR "/train-images-idx3-ubyte", R_OK) == 0;
}

static int run(const char *command)
{
    int rc = system(command);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_federate_improves(void **state)
{
    (void)state;
    if (!have_data())
        skip();
    char *log = tu_temp_path("federate.jsonl");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s federate --clients 4 --rounds 3 --per-round 4 --local-steps 5 --test-samples 500 --threads 1 "
             "--quiet --log %s",
             vktrain_path, log);
    assert_int_equal(run(cmd), 0);

    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char line[4096];
    double first = -1.0, last = -1.0, summary = -1.0;
    int rounds = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t err;
        json_t *rec = json_loads(line, 0, &err);
        assert_non_null(rec);
        if (json_is_true(json_object_get(rec, "summary"))) {
            summary = json_real_value(json_object_get(rec, "final_accuracy"));
        } else {
            double acc = json_real_value(json_object_get(rec, "test_accuracy"));
            if (json_integer_value(json_object_get(rec, "round")) == 0)
                first = acc;
            last = acc;
            rounds++;
        }
        json_decref(rec);
    }
    fclose(f);
    assert_int_equal(rounds, 4); /* the initial model and three rounds */
    assert_true(first >= 0.0 && first < 0.3);
    if (!(last > first + 0.05))
        fail_msg("accuracy went from %.3f to %.3f", first, last);
    assert_true(fabs(summary - last) < 1e-6);
    free(log);
}

/* The last record of a JSONL log (the summary). */
static json_t *summary_of(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    json_t *last = NULL;
    while (fgets(line, sizeof line, f)) {
        json_decref(last);
        last = json_loads(line, 0, NULL);
        assert_non_null(last);
    }
    fclose(f);
    assert_non_null(last);
    assert_true(json_is_true(json_object_get(last, "summary")));
    return last;
}

/* FedBuff on a non-IID split with packets damaged in transit: the
 * damaged ones are refused and the steps still happen. */
static void test_fedbuff_with_damage(void **state)
{
    (void)state;
    if (!have_data())
        skip();
    char *log = tu_temp_path("fedbuff.jsonl");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s federate --clients 6 --rounds 4 --per-round 4 --mode fedbuff --buffer 2 --split dirichlet:0.5 "
             "--corrupt 0.5 --local-steps 5 --test-samples 500 --threads 1 --quiet --log %s > /dev/null",
             vktrain_path, log);
    assert_int_equal(run(cmd), 0);
    json_t *s = summary_of(log);
    assert_int_equal(json_integer_value(json_object_get(s, "rounds")), 4);
    json_int_t refused = json_integer_value(json_object_get(s, "refused"));
    json_int_t updates = json_integer_value(json_object_get(s, "updates"));
    if (!(refused > 0 && updates >= 8 + refused))
        fail_msg("%lld updates, %lld refused", (long long)updates, (long long)refused);
    json_decref(s);
    free(log);
}

static st_file *read_model(const char *path)
{
    st_file *f = NULL;
    if (st_read(path, &f) != VKT_OK)
        fail_msg("cannot read %s", path);
    return f;
}

static void assert_same_model(const char *a_path, const char *b_path)
{
    st_file *a = read_model(a_path), *b = read_model(b_path);
    assert_int_equal(a->count, b->count);
    for (int i = 0; i < a->count; i++) {
        const st_tensor *t = &a->tensors[i], *u = st_find(b, t->name);
        assert_non_null(u);
        assert_int_equal(t->numel, u->numel);
        const float *x = (const float *)t->data, *y = (const float *)u->data;
        for (uint64_t j = 0; j < t->numel; j++)
            if (!(fabsf(x[j] - y[j]) <= 1e-6f))
                fail_msg("%s and %s differ at %s[%llu]: %g vs %g", a_path, b_path, t->name,
                         (unsigned long long)j, (double)x[j], (double)y[j]);
    }
    st_free(a);
    st_free(b);
}

static void test_vkagg_matches_federate(void **state)
{
    (void)state;
    if (!have_data())
        skip();
    char *key = tu_temp_path("agg.key"), *dir = tu_temp_path("packets"), *fed = tu_temp_path("fed1.safetensors"),
         *agg = tu_temp_path("agg1.safetensors"), *srv = tu_temp_path("serve1.safetensors"),
         *junk = tu_temp_path("junk.pkt");
    mkdir(dir, 0700);
    assert_int_equal(tu_write_file(junk, "not a packet at all", 19), 0);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s keygen --out %s > /dev/null", vkagg_path, key);
    assert_int_equal(run(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "%s federate --clients 3 --rounds 1 --per-round 3 --local-steps 5 --codec dense --memory-tiers 1 "
             "--test-samples 500 --threads 1 --quiet --key %s --save-packets %s --save %s > /dev/null",
             vktrain_path, key, dir, fed);
    assert_int_equal(run(cmd), 0);

    snprintf(cmd, sizeof cmd,
             "%s aggregate --model mlp --init %s/v0.safetensors --key %s --min-clients 3 --out %s --quiet "
             "%s %s/v0-*.pkt > /dev/null",
             vkagg_path, dir, key, agg, junk, dir);
    assert_int_equal(run(cmd), 0);
    assert_same_model(fed, agg);

    snprintf(cmd, sizeof cmd,
             "%s serve --model mlp --init %s/v0.safetensors --key %s --port 0 --min-clients 3 --deadline 60 "
             "--timeout 10 --out %s --quiet",
             vkagg_path, dir, key, srv);
    FILE *server = popen(cmd, "r");
    assert_non_null(server);
    char line[512];
    assert_non_null(fgets(line, sizeof line, server));
    const char *at = strstr(line, " port ");
    assert_non_null(at);
    int port = atoi(at + 6);
    assert_true(port > 0);
    snprintf(cmd, sizeof cmd, "%s send --port %d --quiet %s %s/v0-*.pkt > /dev/null", vkagg_path, port, junk, dir);
    assert_int_equal(run(cmd), 1); /* the junk was refused */
    while (fgets(line, sizeof line, server))
        ;
    int rc = pclose(server);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    assert_same_model(fed, srv);

    free(key), free(dir), free(fed), free(agg), free(srv), free(junk);
}

static double final_accuracy(const char *flags, const char *name)
{
    char *log = tu_temp_path(name);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s federate --clients 4 --rounds 2 --per-round 4 --local-steps 5 --test-samples 500 --threads 1 "
             "--memory-tiers 1,0.5 --quiet --log %s %s > /dev/null",
             vktrain_path, log, flags);
    assert_int_equal(run(cmd), 0);
    json_t *s = summary_of(log);
    assert_int_equal(json_integer_value(json_object_get(s, "rounds")), 2);
    double acc = json_real_value(json_object_get(s, "final_accuracy"));
    json_decref(s);
    free(log);
    return acc;
}

/* --secure-agg gives plain FedAvg's model up to the fixed-point step
 * (the same test accuracy here), completes with a client dropping out,
 * and refuses top-k with a reason. */
static void test_federate_secure_agg(void **state)
{
    (void)state;
    if (!have_data())
        skip();
    double plain = final_accuracy("--codec dense", "plain.jsonl");
    double secure = final_accuracy("--secure-agg", "secure.jsonl");
    if (fabs(plain - secure) > 0.004)
        fail_msg("plain FedAvg %.4f, secure aggregation %.4f", plain, secure);
    double dropped = final_accuracy("--secure-agg --secagg-dropout 0.25 --secagg-drop-at shares,masked", "drop.jsonl");
    assert_true(dropped > 0.2);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s federate --secure-agg --codec topk=0.1 2>&1 | grep -q 'cannot use top-k'",
             vktrain_path);
    assert_int_equal(run(cmd), 0);
}

/* vktrain trains the transformer preset (AdamW by default): 40 steps
 * already leave chance (10%) far behind. On the CPU backend: probing
 * Vulkan would bring the loader's allocations LeakSanitizer reports. */
static void test_train_transformer(void **state)
{
    (void)state;
    if (!have_data())
        skip();
    char *log = tu_temp_path("transformer.jsonl");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s train --model transformer --steps 40 --threads 1 --device cpu --quiet --log %s",
             vktrain_path, log);
    assert_int_equal(run(cmd), 0);
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char line[4096];
    double accuracy = -1.0;
    while (fgets(line, sizeof line, f)) {
        json_error_t err;
        json_t *rec = json_loads(line, 0, &err);
        assert_non_null(rec);
        if (json_is_true(json_object_get(rec, "summary")))
            accuracy = json_real_value(json_object_get(rec, "test_accuracy"));
        json_decref(rec);
    }
    fclose(f);
    remove(log);
    free(log);
    if (!(accuracy > 0.5))
        fail_msg("transformer: test accuracy %.4f after 40 steps", accuracy);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_fed_cli VKTRAIN VKAGG\n");
        return 2;
    }
    vktrain_path = argv[1];
    vkagg_path = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_federate_improves),
        cmocka_unit_test(test_fedbuff_with_damage),
        cmocka_unit_test(test_vkagg_matches_federate),
        cmocka_unit_test(test_federate_secure_agg),
        cmocka_unit_test(test_train_transformer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
