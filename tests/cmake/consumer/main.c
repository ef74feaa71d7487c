/*
 * Consumer of libdocstore through add_subdirectory(): the headers of the
 * same version as the library it links with.
 */
#include <stdio.h>
#include <string.h>

#include <docstore/docstore.h>

int main(void) {
  if (strcmp(docstore_version(), DOCSTORE_VERSION_STRING) != 0) {
    fprintf(stderr, "library %s, headers %s\n", docstore_version(),
            DOCSTORE_VERSION_STRING);
    return 1;
  }
  printf("docstore %s\n", docstore_version());
  return 0;
}
