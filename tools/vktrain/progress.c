/* Progress display, timing and resource figures for the train command.
 *
 * On a terminal a single live line is redrawn at most ~10 times a second;
 * the caller only reads the running loss when a redraw is due, because
 * reading metrics waits for the device and would otherwise stall every
 * step. Redirected output gets a plain line every ~10% of an epoch so
 * logs stay readable. */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_INTERVAL_S 0.1
#define BAR_WIDTH 20
#define MIN_BAR_WIDTH 5
#define LINE_STEPS 10 /* plain lines per epoch */

double cli_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t cli_peak_rss_bytes(void)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0)
        return 0;
    return (uint64_t)usage.ru_maxrss * 1024u; /* Linux reports KiB */
}

void cli_format_duration(double seconds, char *buf, size_t size)
{
    if (!(seconds >= 0.0))
        seconds = 0.0;
    long total = (long)(seconds + 0.5);
    long hours = total / 3600, minutes = total / 60 % 60, secs = total % 60;
    if (hours > 0)
        snprintf(buf, size, "%ld:%02ld:%02ld", hours, minutes, secs);
    else
        snprintf(buf, size, "%ld:%02ld", minutes, secs);
}

cli_progress_style cli_progress_pick_style(bool quiet)
{
    if (quiet)
        return CLI_PROGRESS_NONE;
    return isatty(STDERR_FILENO) ? CLI_PROGRESS_BAR : CLI_PROGRESS_LINES;
}

/* Batch count (since first_batch) at which plain line `k` of LINE_STEPS
 * is printed. */
static size_t line_mark(const cli_progress *p, size_t k)
{
    size_t span = p->end_batch - p->first_batch;
    size_t mark = p->first_batch + (span * k + LINE_STEPS - 1) / LINE_STEPS;
    return mark > p->first_batch ? mark : p->first_batch + 1;
}

void cli_progress_begin(cli_progress *p, cli_progress_style style, int64_t epoch, int64_t epochs,
                        size_t first_batch, size_t end_batch)
{
    *p = (cli_progress){
        .style = style,
        .epoch = epoch,
        .epochs = epochs,
        .first_batch = first_batch,
        .end_batch = end_batch,
        .started = cli_now_seconds(),
    };
    p->last_draw = p->started;
    p->line_index = 1;
    p->next_line_batch = line_mark(p, p->line_index);
}

bool cli_progress_due(const cli_progress *p, size_t batch)
{
    size_t done = batch + 1;
    if (done >= p->end_batch) /* the epoch summary follows at once */
        return false;
    switch (p->style) {
    case CLI_PROGRESS_BAR:
        return cli_now_seconds() - p->last_draw >= REDRAW_INTERVAL_S;
    case CLI_PROGRESS_LINES:
        return done >= p->next_line_batch;
    default:
        return false;
    }
}

static int terminal_columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

void cli_progress_draw(cli_progress *p, size_t batch, int64_t samples, double running_loss)
{
    double now = cli_now_seconds();
    double elapsed = now - p->started;
    size_t done = batch + 1;
    size_t run_done = done - p->first_batch;
    double rate = elapsed > 0.0 ? (double)samples / elapsed : 0.0;
    double eta = run_done > 0 ? elapsed / (double)run_done * (double)(p->end_batch - done) : 0.0;
    char eta_text[32];
    cli_format_duration(eta, eta_text, sizeof eta_text);

    if (p->style == CLI_PROGRESS_BAR) {
        char head[32], tail[128];
        snprintf(head, sizeof head, "epoch %lld/%lld", (long long)p->epoch, (long long)p->epochs);
        snprintf(tail, sizeof tail, "%zu/%zu  loss %.4f  %.0f samples/s  ETA %s", done, p->end_batch,
                 running_loss, rate, eta_text);
        /* The bar gives way on a narrow terminal: a wrapped line cannot be
         * redrawn in place with \r. */
        int room = terminal_columns() - 1 - (int)(strlen(head) + strlen(tail)) - 4;
        int width = room < BAR_WIDTH ? room : BAR_WIDTH;
        char bar[BAR_WIDTH + 1] = "";
        if (width >= MIN_BAR_WIDTH) {
            size_t filled = p->end_batch > 0 ? done * (size_t)width / p->end_batch : (size_t)width;
            memset(bar, '#', filled);
            memset(bar + filled, '.', (size_t)width - filled);
            bar[width] = '\0';
            fprintf(stderr, "\r%s [%s] %s\033[K", head, bar, tail);
        } else {
            fprintf(stderr, "\r%s  %s\033[K", head, tail);
        }
        p->drawn = true;
    } else {
        fprintf(stderr, "epoch %lld/%lld  batch %zu/%zu  loss %.4f  %.0f samples/s  ETA %s\n",
                (long long)p->epoch, (long long)p->epochs, done, p->end_batch, running_loss, rate,
                eta_text);
        while (p->line_index < LINE_STEPS && p->next_line_batch <= done)
            p->next_line_batch = line_mark(p, ++p->line_index);
        if (p->line_index >= LINE_STEPS)
            p->next_line_batch = p->end_batch;
    }
    fflush(stderr);
    p->last_draw = now;
}

void cli_progress_end(cli_progress *p)
{
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = false;
    }
}
