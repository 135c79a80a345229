/* The presets: Fashion-MNIST and the networks trained on it (built
 * by the tools' shared models, tools/common/models.c, with PyTorch's
 * layer names so --init and saved weights match torch). Both networks
 * take the same inputs, and the dataset is checked against them up
 * front so a wrong --data gives a clear message rather than a shape
 * error. */
#include "cli.h"

#include "../common/models.h"

#include <stdio.h>
#include <unistd.h>

#define IMAGE_CHANNELS 1
#define IMAGE_SIDE 28
#define NUM_CLASSES 10

/* "<dir>/<base>.gz", else "<dir>/<base>" (the loader reads either). */
static bool find_file(const char *dir, const char *base, char *path, size_t size)
{
    static const char *const suffixes[] = { ".gz", "" };
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        int n = snprintf(path, size, "%s/%s%s", dir, base, suffixes[i]);
        if (n > 0 && (size_t)n < size && access(path, R_OK) == 0)
            return true;
    }
    return false;
}

bool cli_find_data_files(const char *dir, bool need_train, cli_data_files *out)
{
    bool found = find_file(dir, "t10k-images-idx3-ubyte", out->test_images, sizeof out->test_images) &&
                 find_file(dir, "t10k-labels-idx1-ubyte", out->test_labels, sizeof out->test_labels);
    if (found && need_train) {
        found = find_file(dir, "train-images-idx3-ubyte", out->train_images, sizeof out->train_images) &&
                find_file(dir, "train-labels-idx1-ubyte", out->train_labels, sizeof out->train_labels);
    }
    if (!found) {
        cli_error("Fashion-MNIST not found in %s "
                  "(install the dataset-fashion-mnist package or pass --data DIR)", dir);
    }
    return found;
}

bool cli_load_dataset(const char *images, const char *labels, vkt_dataset **out)
{
    vkt_dataset *ds = NULL;
    vkt_status status = vkt_dataset_load_idx(images, labels, &ds);
    if (status != VKT_OK) {
        cli_api_error(status, "cannot load %s (labels %s)", images, labels);
        return false;
    }

    int dims[4] = { 0 };
    int rank = vkt_dataset_sample_shape(ds, dims);
    if (rank != 3 || dims[0] != IMAGE_CHANNELS || dims[1] != IMAGE_SIDE || dims[2] != IMAGE_SIDE) {
        cli_error("%s does not hold 28x28 grayscale images, which the presets expect", images);
        vkt_dataset_destroy(ds);
        return false;
    }
    if (vkt_dataset_num_classes(ds) > NUM_CLASSES) {
        cli_error("%s has labels above %d; the presets have %d classes", labels, NUM_CLASSES - 1,
                  NUM_CLASSES);
        vkt_dataset_destroy(ds);
        return false;
    }
    *out = ds;
    return true;
}

bool cli_build_model(cli_model model, uint64_t seed, float label_smoothing,
                     vkt_graph **graph_out, vkt_tensor *loss_out)
{
    model_config config = model_defaults(model == CLI_MODEL_CNN           ? MODEL_CNN
                                         : model == CLI_MODEL_TRANSFORMER ? MODEL_TRANSFORMER
                                                                          : MODEL_MLP);
    config.classes = NUM_CLASSES;
    config.label_smoothing = label_smoothing;
    config.seed = seed;
    char err[512];
    if (!model_build(&config, graph_out, loss_out, err, sizeof err)) {
        cli_error("%s", err);
        return false;
    }
    return true;
}
