/*
 * libdocstore - S3 retry policy: what is retried, and how long to wait.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Exponential backoff with "full jitter" (the delay before retry n is
 * uniform in [0, min(max, base * 2^(n-1))]), as AWS's architecture blog
 * recommends: clients that failed together do not retry together.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "s3/s3_internal.h"

int docstore__s3_retryable_reply(long status, const char *s3_code) {
  static const char *const retry_codes[] = {
      "SlowDown",
      "RequestTimeout",
      "RequestTimeTooSkewed",
      "InternalError",
      "ServiceUnavailable",
      "Throttling",
      "ThrottlingException",
      "RequestThrottled",
  };
  if (s3_code && *s3_code) {
    for (size_t i = 0; i < sizeof(retry_codes) / sizeof(retry_codes[0]); i++)
      if (strcmp(s3_code, retry_codes[i]) == 0)
        return 1;
  }
  /* Authorisation failures are final whatever else the reply says. */
  if (status == 401 || status == 403)
    return 0;
  if (status == 501) /* NotImplemented: asking again will not help */
    return 0;
  return status >= 500 && status <= 599;
}

int docstore__s3_retryable_curl(CURLcode rc) {
  switch (rc) {
  case CURLE_COULDNT_CONNECT: /* refused */
  case CURLE_SEND_ERROR:      /* reset while sending */
  case CURLE_RECV_ERROR:      /* reset while receiving */
  case CURLE_GOT_NOTHING:     /* closed before any reply */
  case CURLE_PARTIAL_FILE:    /* closed in the middle of the body */
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return 1;
  default:
    return 0;
  }
}

unsigned int docstore__s3_backoff_ms(unsigned int retry, unsigned int base_ms,
                                     unsigned int max_ms, double random01) {
  if (retry == 0)
    retry = 1;
  uint64_t cap = base_ms;
  for (unsigned int i = 1; i < retry && cap < max_ms; i++)
    cap *= 2;
  if (cap > max_ms)
    cap = max_ms;
  if (random01 < 0.0)
    random01 = 0.0;
  if (random01 > 1.0)
    random01 = 1.0;
  return (unsigned int)((double)cap * random01 + 0.5);
}

double docstore__s3_random01(void) {
  uint32_t r = 0;
  if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
    return 0.5; /* a fixed delay is still a delay */
  return (double)r / (double)UINT32_MAX;
}

void docstore__s3_sleep_ms(unsigned int ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}
