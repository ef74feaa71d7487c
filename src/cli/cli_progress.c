/*
 * docstore CLI - progress display shared by migrate (files) and the
 * streaming commands (bytes): a bar redrawn in place on a terminal, else a
 * plain line every LINE_INTERVAL seconds, on standard error only (standard
 * output stays the command's data).  Ctrl-C sets a flag the progress
 * callbacks turn into a cancel.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Seconds between plain progress lines. */
#define LINE_INTERVAL 10.0
/* Seconds between redraws of the bar (byte progress comes much faster). */
#define BAR_INTERVAL 0.2

volatile sig_atomic_t cli_interrupted;

static struct sigaction old_sigint;

static void on_sigint(int sig) {
  (void)sig;
  cli_interrupted = 1;
}

void cli_sigint_catch(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigint;
  sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills */
  sigemptyset(&sa.sa_mask);
  cli_interrupted = 0;
  sigaction(SIGINT, &sa, &old_sigint);
}

void cli_sigint_restore(void) { sigaction(SIGINT, &old_sigint, NULL); }

int cli_progress_mode(cli_ctx *ctx, const char *text, int *mode) {
  if (!text || strcmp(text, "auto") == 0)
    *mode = CLI_PROGRESS_AUTO;
  else if (strcmp(text, "bar") == 0)
    *mode = CLI_PROGRESS_BAR;
  else if (strcmp(text, "lines") == 0)
    *mode = CLI_PROGRESS_LINES;
  else if (strcmp(text, "none") == 0)
    *mode = CLI_PROGRESS_NONE;
  else
    return cli_usage(ctx,
                     "--progress takes auto, bar, lines or none, got "
                     "'%s'",
                     text);
  return 0;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_init(cli_progress *p, int mode, const char *verb) {
  memset(p, 0, sizeof(*p));
  p->verb = verb;
  p->tty = mode == CLI_PROGRESS_BAR ||
           (mode == CLI_PROGRESS_AUTO && isatty(STDERR_FILENO));
  p->quiet = mode == CLI_PROGRESS_NONE;
  p->start = now_seconds();
  p->last_draw = -1;
  p->last_line = -1;
}

double cli_progress_elapsed(const cli_progress *p) {
  return now_seconds() - p->start;
}

void cli_fmt_duration(char *dst, size_t len, double s) {
  if (s < 0) {
    snprintf(dst, len, "?");
    return;
  }
  unsigned long t = (unsigned long)(s + 0.5);
  if (t >= 3600)
    snprintf(dst, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(dst, len, "%lu:%02lu", t / 60, t % 60);
}

int cli_progress_due(cli_progress *p, double elapsed, int final) {
  if (p->quiet)
    return 0;
  if (p->tty) {
    if (!final && p->last_draw >= 0 && elapsed - p->last_draw < BAR_INTERVAL)
      return 0;
    p->last_draw = elapsed;
    return 1;
  }
  if (!final && p->last_line >= 0 && elapsed - p->last_line < LINE_INTERVAL)
    return 0;
  p->last_line = elapsed;
  return 1;
}

void cli_progress_draw(const cli_progress *p, double pct, const char *text,
                       int final) {
  if (p->tty) {
    char bar[31];
    size_t fill = pct < 0 ? 0 : (size_t)((pct > 100 ? 100 : pct) * 0.3);
    for (size_t i = 0; i < 30; i++)
      bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r\033[K[%s] %s", bar, text);
    if (final)
      fputc('\n', stderr);
  } else {
    fprintf(stderr, "docstore: %s: %s%s\n", p->verb, text,
            final ? ", done" : "");
  }
  fflush(stderr);
}

/* 1536 -> "1.5 KiB" */
static void fmt_bytes(char *dst, size_t len, double n) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  size_t u = 0;
  while (n >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
    n /= 1024;
    u++;
  }
  snprintf(dst, len, u ? "%.1f %s" : "%.0f %s", n, units[u]);
}

static void bytes_report(cli_progress *p, uint64_t done, uint64_t total,
                         int final) {
  double elapsed = cli_progress_elapsed(p);
  if (!cli_progress_due(p, elapsed, final))
    return;
  char d[32], t[32], rate[32], eta[32], text[160];
  int known = total != UINT64_MAX && total != 0;
  double speed = elapsed > 0 ? (double)done / elapsed : 0;
  fmt_bytes(d, sizeof(d), (double)done);
  fmt_bytes(rate, sizeof(rate), speed);
  if (known) {
    double pct = 100.0 * (double)done / (double)total;
    fmt_bytes(t, sizeof(t), (double)total);
    cli_fmt_duration(eta, sizeof(eta),
                     final ? 0
                     : speed > 0 && total > done
                         ? (double)(total - done) / speed
                         : -1);
    snprintf(text, sizeof(text), "%s/%s %5.1f%% %s/s ETA %s", d, t,
             pct > 100 ? 100.0 : pct, rate, eta);
    cli_progress_draw(p, pct, text, final);
  } else {
    snprintf(text, sizeof(text), "%s %s/s", d, rate);
    cli_progress_draw(p, final ? 100.0 : 0.0, text, final);
  }
}

int cli_progress_bytes(void *payload, uint64_t done, uint64_t total) {
  cli_progress *p = payload;
  if (p) {
    p->done = done;
    p->total = total;
    bytes_report(p, done, total, 0);
  }
  return cli_interrupted ? 1 : 0;
}

void cli_progress_end(cli_progress *p) {
  if (p && !p->quiet)
    bytes_report(p, p->done, p->total, 1);
}
