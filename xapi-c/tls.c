/* The host's TLS identity, made and read with OpenSSL 3: at first start a
 * self-signed EC P-256 certificate is generated and stored, with its key, in
 * one PEM file that the HTTPS listener (GnuTLS inside libmicrohttpd) loads.
 * A usable file is never touched, so the fingerprint that pool members and
 * clients have pinned stays the same across restarts. */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/util.h"

LOG_MODULE("tls");

#define TLS_VALIDITY_YEARS 10
/* The longest CN that X.509 allows (ub-common-name). */
#define TLS_CN_MAX 64

DEFINE_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)
DEFINE_CLEANUP_FUNC(X509, X509_free)
DEFINE_CLEANUP_FUNC(BIO, BIO_free)
DEFINE_CLEANUP_FUNC(BIGNUM, BN_free)
DEFINE_CLEANUP_FUNC(GENERAL_NAMES, GENERAL_NAMES_free)
DEFINE_CLEANUP_FUNC(BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free)
DEFINE_CLEANUP_FUNC(FILE, fclose)

/* OpenSSL's default asks on the terminal for the passphrase of an
 * encrypted key, which would hang a daemon; such a key is unusable to us
 * anyway, since GnuTLS gets no passphrase either. */
static int no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)userdata;
    return -1;
}

/* Checks that the PEM file at path holds a private key and the certificate
 * that belongs to it. Each is looked for from the start of the file, so
 * their order does not matter. Returns 0, -ENOENT if there is no file,
 * -EINVAL if it holds no usable pair, or another negative errno. */
static int check_pair(const char *path)
{
    _cleanup_(BIO_freep) BIO *bio = NULL;
    _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
    _cleanup_(X509_freep) X509 *cert = NULL;
    int r = 0;

    bio = BIO_new_file(path, "r");
    if (!bio) {
        r = errno > 0 ? -errno : -EIO;
        goto out;
    }
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    if (!key || BIO_reset(bio) < 0) {
        r = -EINVAL;
        goto out;
    }
    cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
    /* A key that does not belong to the certificate would fail every
     * handshake, which is as unusable as no file at all. */
    if (!cert || X509_check_private_key(cert, key) != 1)
        r = -EINVAL;
out:
    /* Leave no stale reasons behind for the next OpenSSL user of this
     * thread. */
    ERR_clear_error();
    return r;
}

static int add_dns_name(GENERAL_NAMES *names, const char *dns)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();

    if (!gn || !s || ASN1_STRING_set(s, dns, -1) != 1) {
        GENERAL_NAME_free(gn);
        ASN1_IA5STRING_free(s);
        return -ENOMEM;
    }
    GENERAL_NAME_set0_value(gn, GEN_DNS, s);
    if (sk_GENERAL_NAME_push(names, gn) <= 0) {
        GENERAL_NAME_free(gn);
        return -ENOMEM;
    }
    return 0;
}

static int add_ip_name(GENERAL_NAMES *names, const char *ip)
{
    unsigned char addr[16];
    int len;
    GENERAL_NAME *gn;
    ASN1_OCTET_STRING *s;

    if (inet_pton(AF_INET, ip, addr) == 1)
        len = 4;
    else if (inet_pton(AF_INET6, ip, addr) == 1)
        len = 16;
    else
        return -EINVAL;

    gn = GENERAL_NAME_new();
    s = ASN1_OCTET_STRING_new();
    if (!gn || !s || ASN1_OCTET_STRING_set(s, addr, len) != 1) {
        GENERAL_NAME_free(gn);
        ASN1_OCTET_STRING_free(s);
        return -ENOMEM;
    }
    GENERAL_NAME_set0_value(gn, GEN_IPADD, s);
    if (sk_GENERAL_NAME_push(names, gn) <= 0) {
        GENERAL_NAME_free(gn);
        return -ENOMEM;
    }
    return 0;
}

static bool is_ip_address(const char *s)
{
    unsigned char addr[16];

    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

/* The names clients check: the host name (as an IP entry if it is an
 * address), and the loopback names that local tools connect to. */
static int add_subject_alt_names(X509 *cert, const char *hostname)
{
    _cleanup_(GENERAL_NAMES_freep) GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    int r;

    if (!names)
        return -ENOMEM;
    if (is_ip_address(hostname))
        r = add_ip_name(names, hostname);
    else
        r = add_dns_name(names, hostname);
    if (r >= 0 && !streq(hostname, "localhost"))
        r = add_dns_name(names, "localhost");
    if (r >= 0 && !streq(hostname, "127.0.0.1"))
        r = add_ip_name(names, "127.0.0.1");
    if (r < 0)
        return r;
    if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) != 1)
        return -EINVAL;
    return 0;
}

static int add_basic_constraints(X509 *cert)
{
    _cleanup_(BASIC_CONSTRAINTS_freep) BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();

    if (!bc)
        return -ENOMEM;
    bc->ca = 0;
    if (X509_add1_ext_i2d(cert, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT) != 1)
        return -EINVAL;
    return 0;
}

static int set_random_serial(X509 *cert)
{
    unsigned char bytes[16];
    _cleanup_(BN_freep) BIGNUM *bn = NULL;

    if (RAND_bytes(bytes, sizeof(bytes)) != 1)
        return -EIO;
    /* A zero serial is not allowed; the odds are nil, but make it so. */
    bytes[sizeof(bytes) - 1] |= 1;
    bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
        return -ENOMEM;
    return 0;
}

static int set_validity(X509 *cert)
{
    time_t now = time(NULL);
    struct tm tm;
    time_t until;

    /* A day of slack for clients whose clock lags behind ours. */
    if (!X509_time_adj_ex(X509_getm_notBefore(cert), -1, 0, &now))
        return -EINVAL;
    /* Ten calendar years, not 3650 days. */
    if (!gmtime_r(&now, &tm))
        return -EOVERFLOW;
    tm.tm_year += TLS_VALIDITY_YEARS;
    until = timegm(&tm);
    if (until == (time_t)-1 || !ASN1_TIME_set(X509_getm_notAfter(cert), until))
        return -EOVERFLOW;
    return 0;
}

static int set_subject(X509 *cert, const char *hostname)
{
    X509_NAME *name = X509_get_subject_name(cert);
    char cn[TLS_CN_MAX + 1];

    /* A CN has at most 64 characters. A longer name is in the
     * subjectAltName in full, which is what clients check; the CN gets its
     * first label, which DNS keeps under 64. */
    if (strlen(hostname) <= TLS_CN_MAX)
        snprintf(cn, sizeof(cn), "%s", hostname);
    else
        snprintf(cn, sizeof(cn), "%.*s", (int)strcspn(hostname, "."), hostname);
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                   0) != 1)
        return -EINVAL;
    /* Self-signed: the issuer is the subject. */
    if (X509_set_issuer_name(cert, name) != 1)
        return -EINVAL;
    return 0;
}

static int make_pair(const char *hostname, EVP_PKEY **ret_key, X509 **ret_cert)
{
    _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
    _cleanup_(X509_freep) X509 *cert = NULL;
    int r;

    key = EVP_EC_gen("P-256");
    cert = X509_new();
    if (!key || !cert)
        return -ENOMEM;
    if (X509_set_version(cert, X509_VERSION_3) != 1)
        return -EINVAL;
    r = set_random_serial(cert);
    if (r >= 0)
        r = set_validity(cert);
    if (r >= 0)
        r = set_subject(cert, hostname);
    if (r >= 0)
        r = add_subject_alt_names(cert, hostname);
    if (r >= 0)
        r = add_basic_constraints(cert);
    if (r < 0)
        return r;
    if (X509_set_pubkey(cert, key) != 1 || X509_sign(cert, key, EVP_sha256()) <= 0)
        return -EINVAL;
    *ret_key = TAKE_PTR(key);
    *ret_cert = TAKE_PTR(cert);
    return 0;
}

static int fsync_parent(const char *path)
{
    _cleanup_free_ char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int fd, r = 0;

    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        r = -errno;
    close(fd);
    return r;
}

/* Writes key then certificate to path.tmp (0600), syncs it and renames it
 * over path, so a crash leaves either the old file or the new one. */
static int write_pair(const char *path, EVP_PKEY *key, X509 *cert)
{
    _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
    _cleanup_(fclosep) FILE *f = NULL;
    int fd, r;

    /* A left-over temporary file from a crash is ours; O_EXCL and
     * O_NOFOLLOW then make sure we write to a file we just created. */
    if (unlink(tmp) < 0 && errno != ENOENT)
        return -errno;
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    f = fdopen(fd, "w");
    if (!f) {
        r = -errno;
        close(fd);
        goto fail;
    }
    if (fchmod(fd, 0600) < 0) { /* in case the umask took bits away */
        r = -errno;
        goto fail;
    }
    if (PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_X509(f, cert) != 1) {
        ERR_clear_error();
        r = -EIO;
        goto fail;
    }
    if (fflush(f) != 0 || fsync(fd) < 0) {
        r = -errno;
        goto fail;
    }
    r = fclose(TAKE_PTR(f));
    if (r != 0) {
        r = -errno;
        goto fail;
    }
    if (rename(tmp, path) < 0) {
        r = -errno;
        goto fail;
    }
    /* The rename is durable only once the directory is on disk. */
    return fsync_parent(path);
fail:
    unlink(tmp);
    return r;
}

int tls_ensure_certificate(const char *path, const char *hostname)
{
    _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
    _cleanup_(X509_freep) X509 *cert = NULL;
    int r;

    if (!path || !hostname || !*hostname)
        return -EINVAL;

    r = check_pair(path);
    if (r >= 0)
        return 0;
    /* A file we cannot even open (permissions, a directory) is not ours to
     * replace; one that holds no usable pair is. */
    if (r != -ENOENT && r != -EINVAL)
        return r;
    if (r == -EINVAL)
        log_warning("%s holds no usable key and certificate, replacing it", path);

    r = make_pair(hostname, &key, &cert);
    if (r < 0) {
        ERR_clear_error();
        return r;
    }
    r = write_pair(path, key, cert);
    if (r < 0)
        return r;
    log_info("Generated a self-signed certificate for %s in %s", hostname, path);
    return 0;
}

int tls_certificate_fingerprint(const char *path, char **ret)
{
    _cleanup_(BIO_freep) BIO *bio = NULL;
    _cleanup_(X509_freep) X509 *cert = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char *s;

    if (!path || !ret)
        return -EINVAL;
    bio = BIO_new_file(path, "r");
    if (!bio) {
        int r = errno > 0 ? -errno : -EIO;
        ERR_clear_error();
        return r;
    }
    /* Skips the key block before the certificate. */
    cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
    if (!cert || X509_digest(cert, EVP_sha256(), md, &n) != 1 || n == 0) {
        ERR_clear_error();
        return -EINVAL;
    }

    /* Three characters per byte: two digits and a colon, or the NUL. */
    s = xmalloc(n * 3);
    for (unsigned int i = 0; i < n; i++)
        snprintf(s + i * 3, (n - i) * 3, "%02X%s", md[i], i + 1 < n ? ":" : "");
    *ret = s;
    return 0;
}
