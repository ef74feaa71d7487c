/*
 * libdocstore - logging through a host callback.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <time.h>

#include "internal.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static docstore_log_cb log_cb = NULL;
static void *log_payload = NULL;
static int log_max = DOCSTORE_LOG_WARN;

static const char *level_name(int level) {
  switch (level) {
  case DOCSTORE_LOG_ERROR:
    return "ERROR";
  case DOCSTORE_LOG_WARN:
    return "WARN";
  case DOCSTORE_LOG_INFO:
    return "INFO";
  default:
    return "DEBUG";
  }
}

void docstore_set_log_callback(docstore_log_cb cb, void *payload,
                               int max_level) {
  pthread_mutex_lock(&log_lock);
  log_cb = cb;
  log_payload = cb ? payload : NULL;
  log_max = cb ? max_level : DOCSTORE_LOG_WARN;
  pthread_mutex_unlock(&log_lock);
}

void docstore_set_log_level(int max_level) {
  pthread_mutex_lock(&log_lock);
  log_max = max_level;
  pthread_mutex_unlock(&log_lock);
}

int docstore__log_enabled(int level) {
  pthread_mutex_lock(&log_lock);
  int on = level <= log_max;
  pthread_mutex_unlock(&log_lock);
  return on;
}

void docstore__log(int level, const char *fmt, ...) {
  pthread_mutex_lock(&log_lock);
  docstore_log_cb cb = log_cb;
  void *payload = log_payload;
  int max = log_max;
  pthread_mutex_unlock(&log_lock);
  if (level > max)
    return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (cb)
    cb(payload, level, line);
  else
    fprintf(stderr, "docstore: %s: %s\n", level_name(level), line);
}

uint64_t docstore__now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *docstore_version(void) { return DOCSTORE_VERSION_STRING; }
int docstore_version_number(void) { return DOCSTORE_VERSION_NUMBER; }
