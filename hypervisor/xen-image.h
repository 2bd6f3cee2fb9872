/* The suspend images of the xen backend: a short header of domaind's own
 * (a line naming the format, its version and the length of what follows,
 * then the domain's configuration as JSON), followed by libxl's save
 * stream. The header lets domain/resume rebuild the domain's libxl
 * configuration, which libxl's stream does not hold, the way xl's save
 * files carry their config. Works on file descriptors so that libxl reads
 * and writes its stream on the same one, right after the header. */
#pragma once

#include "hypervisor/backend.h"

#define XEN_IMAGE_MAGIC "xenia-xen-image"
#define XEN_IMAGE_VERSION 1
/* The most bytes of configuration a header may hold. */
#define XEN_IMAGE_MAX_CONFIG (4 * 1024 * 1024)

/* Writes the header of an image of a domain configured as cfg at fd's
 * position. Returns 0 or a negative errno. Blocks on the write. */
int xen_image_write_header(int fd, const struct dm_config *cfg);

/* Reads the header at fd's position (path names the image in errors),
 * leaving fd at the start of libxl's stream. Returns NULL and the
 * configuration in *ret (the caller disposes of it with dm_config_done),
 * or a BACKEND_FAILURE error saying why it is not an image. */
struct dm_error *xen_image_read_header(int fd, const char *path, struct dm_config *ret);
