/* VM.import from a URL (xva_url.c). */
#pragma once

#include <stddef.h>

#include "error.h"
#include "xva_import.h"

/* Downloads the XVA at url (http or https, plain or compressed) and
 * imports it with opts, as PUT /import does: the new VMs go to *ret_vms
 * (a new array of *ret_n refs). Returns XCP's error for the URL or the
 * import's, or NULL. Blocks for the whole transfer; task.cancel of
 * opts->task stops it. */
struct api_error *xva_import_url(const char *url, const struct xva_import_opts *opts,
                                 char (**ret_vms)[64], size_t *ret_n);
