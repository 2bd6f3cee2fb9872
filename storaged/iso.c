/* ISO libraries: an iso SR keeps no metadata of its own; its VDIs are the
 * *.iso and *.img files of its folder, read again at every attach and
 * scan, each with a uuid derived from the SR uuid and its file name. */
#include "storaged/internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/util.h"
#include "storaged/chain.h"
#include "storaged/exec.h"
#include "storaged/qcow2.h"
#include "storaged/recover.h"

LOG_MODULE("iso");

/* A stable uuid for an ISO file: name-based (version 5 style) from the SR
 * uuid and the file name, so every scan, on every host, gives the same. */
static void iso_uuid(const char *sr_uuid, const char *name, char out[UUID_STR_LEN])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    _cleanup_free_ char *key = xasprintf("%s/%s", sr_uuid, name);

    SHA1((const unsigned char *)key, strlen(key), md);
    md[6] = (md[6] & 0x0f) | 0x50;
    md[8] = (md[8] & 0x3f) | 0x80;
    snprintf(out, UUID_STR_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", md[0], md[1],
             md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12], md[13],
             md[14], md[15]);
}

static bool iso_name(const char *name)
{
    size_t len = strlen(name);
    return len > 4 && name[0] != '.' &&
           (strcasecmp(name + len - 4, ".iso") == 0 || strcasecmp(name + len - 4, ".img") == 0);
}

/* Rebuilds an ISO SR's VDI list from the files in its folder. */
int sd_iso_scan(struct sd_sr *sr)
{
    DIR *d = opendir(sr->root);
    struct dirent *e;

    if (!d)
        return -errno;
    while (sr->meta.n_vdis)
        sr_meta_remove(&sr->meta, sr->meta.vdis[0].uuid);
    while ((e = readdir(d))) {
        _cleanup_free_ char *path = sd_path_in(sr, e->d_name);
        char uuid[UUID_STR_LEN];
        struct stat st;

        if (!iso_name(e->d_name) || stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
            !utf8_is_valid(e->d_name, strlen(e->d_name)))
            continue;
        iso_uuid(sr->uuid, e->d_name, uuid);
        struct vdi_meta *v = sr_meta_add(&sr->meta, uuid);
        meta_set_str(&v->name_label, e->d_name);
        meta_set_str(&v->file, e->d_name);
        snprintf(v->format, sizeof(v->format), "iso");
        v->virtual_size = st.st_size;
        v->read_only = true;
    }
    closedir(d);
    return 0;
}
