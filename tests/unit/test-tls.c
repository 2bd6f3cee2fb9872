/* Unit tests of the host's TLS identity (xapi-c/tls.c): the generated file
 * is private and readable back by OpenSSL as a matching key and
 * certificate with the names and limits clients check, a usable file is
 * kept across calls, an unusable one is replaced, and the fingerprint has
 * the form xapi prints. Each test works in its own temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "xapi-c/tls.h"

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/test-tls-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/xapi-ssl.pem", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char tmp[160];

    unlink(f->path);
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
    unlink(tmp);
    rmdir(f->dir);
    free(f);
    return 0;
}

static char *read_all(const char *path)
{
    FILE *fp = fopen(path, "r");
    struct strbuf sb;
    char chunk[4096];
    size_t n;

    assert_non_null(fp);
    strbuf_init(&sb, 0);
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        strbuf_add(&sb, chunk, n);
    fclose(fp);
    char *text = strbuf_detach(&sb, NULL);
    strbuf_done(&sb);
    return text;
}

static void write_all(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static X509 *read_cert(const char *path)
{
    FILE *fp = fopen(path, "r");
    X509 *cert;

    assert_non_null(fp);
    cert = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(cert);
    return cert;
}

static EVP_PKEY *read_key(const char *path)
{
    FILE *fp = fopen(path, "r");
    EVP_PKEY *key;

    assert_non_null(fp);
    key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(key);
    return key;
}

static char *fingerprint(const char *path)
{
    char *fp = NULL;

    assert_int_equal(tls_certificate_fingerprint(path, &fp), 0);
    assert_non_null(fp);
    return fp;
}

static void test_generation_creates_private_file_with_matching_key_and_cert(void **state)
{
    struct fixture *f = *state;
    struct stat st;

    assert_int_equal(tls_ensure_certificate(f->path, "host1.example.com"), 0);
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);

    EVP_PKEY *key = read_key(f->path);
    X509 *cert = read_cert(f->path);
    assert_int_equal(X509_check_private_key(cert, key), 1);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void test_generation_ignores_umask(void **state)
{
    struct fixture *f = *state;
    struct stat st;
    /* A umask that takes every bit away would leave an unreadable file. */
    mode_t old = umask(0777);

    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    umask(old);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_file_holds_pkcs8_key_then_certificate(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    char *text = read_all(f->path);
    /* GnuTLS reads PKCS#8; the key comes first, as in xapi-ssl.pem. */
    assert_true(strncmp(text, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
    char *cert = strstr(text, "-----BEGIN CERTIFICATE-----");
    assert_non_null(cert);
    assert_non_null(strstr(text, "-----END PRIVATE KEY-----"));
    assert_true(strstr(text, "-----END PRIVATE KEY-----") < cert);
    free(text);
}

static void test_key_is_ec_p256(void **state)
{
    struct fixture *f = *state;
    char group[64];
    size_t len = 0;

    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    EVP_PKEY *key = read_key(f->path);
    assert_int_equal(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
    assert_int_equal(EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &len), 1);
    assert_string_equal(group, "prime256v1");
    EVP_PKEY_free(key);
}

static void test_certificate_names_hostname_localhost_and_loopback(void **state)
{
    struct fixture *f = *state;
    char cn[256];

    assert_int_equal(tls_ensure_certificate(f->path, "host1.example.com"), 0);
    X509 *cert = read_cert(f->path);
    assert_true(
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0);
    assert_string_equal(cn, "host1.example.com");
    assert_int_equal(
        X509_check_host(cert, "host1.example.com", 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL),
        1);
    assert_int_equal(X509_check_host(cert, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_host(cert, "other.example.com", 0, 0, NULL), 0);
    X509_free(cert);
}

static void test_ip_hostname_goes_into_an_ip_entry(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(tls_ensure_certificate(f->path, "192.0.2.7"), 0);
    X509 *cert = read_cert(f->path);
    assert_int_equal(X509_check_ip_asc(cert, "192.0.2.7", 0), 1);
    assert_int_equal(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
    X509_free(cert);
}

static void test_long_hostname_is_in_alt_name_in_full(void **state)
{
    struct fixture *f = *state;
    char host[128];
    char cn[256];

    memset(host, 'a', 70);
    strcpy(host + 70, ".example.com");
    assert_int_equal(tls_ensure_certificate(f->path, host), 0);
    X509 *cert = read_cert(f->path);
    assert_int_equal(X509_check_host(cert, host, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL), 1);
    assert_true(
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0);
    assert_true(strlen(cn) <= 64);
    X509_free(cert);
}

static void test_certificate_is_self_signed_v3_end_entity_with_sha256(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    X509 *cert = read_cert(f->path);
    EVP_PKEY *pub = X509_get0_pubkey(cert);

    assert_int_equal(X509_get_version(cert), X509_VERSION_3);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)), 0);
    assert_int_equal(X509_verify(cert, pub), 1);
    assert_int_equal(X509_get_signature_nid(cert), NID_ecdsa_with_SHA256);

    int crit = -1;
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(cert, NID_basic_constraints, &crit, NULL);
    assert_non_null(bc);
    assert_int_equal(bc->ca, 0);
    assert_int_equal(crit, 1);
    BASIC_CONSTRAINTS_free(bc);
    assert_int_equal(X509_check_ca(cert), 0);
    X509_free(cert);
}

static void test_validity_starts_a_day_back_and_lasts_ten_years(void **state)
{
    struct fixture *f = *state;
    int days, secs;

    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    X509 *cert = read_cert(f->path);
    time_t now = time(NULL);
    ASN1_TIME *t = ASN1_TIME_set(NULL, now);

    /* notBefore: one day ago, give or take the test's run time. */
    assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), t), 1);
    assert_int_equal(days, 1);
    assert_true(secs < 60);
    /* notAfter: ten calendar years on, i.e. 3652 or 3653 days. */
    assert_int_equal(ASN1_TIME_diff(&days, &secs, t, X509_get0_notAfter(cert)), 1);
    assert_true(days == 3652 || days == 3653 || (days == 3651 && secs > 86000));
    ASN1_TIME_free(t);
    X509_free(cert);
}

static void test_serial_is_random_and_positive(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    X509 *a = read_cert(f->path);
    unlink(f->path);
    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    X509 *b = read_cert(f->path);

    const ASN1_INTEGER *sa = X509_get0_serialNumber(a);
    const ASN1_INTEGER *sb = X509_get0_serialNumber(b);
    assert_int_not_equal(ASN1_INTEGER_cmp(sa, sb), 0);
    BIGNUM *bn = ASN1_INTEGER_to_BN(sa, NULL);
    assert_false(BN_is_negative(bn));
    assert_true(BN_num_bits(bn) > 64 && BN_num_bits(bn) <= 128);
    BN_free(bn);
    X509_free(a);
    X509_free(b);
}

static void test_second_call_keeps_the_file(void **state)
{
    struct fixture *f = *state;
    struct stat st1, st2;

    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    char *fp1 = fingerprint(f->path);
    char *text1 = read_all(f->path);
    assert_int_equal(stat(f->path, &st1), 0);

    assert_int_equal(tls_ensure_certificate(f->path, "another-name"), 0);
    char *fp2 = fingerprint(f->path);
    char *text2 = read_all(f->path);
    assert_int_equal(stat(f->path, &st2), 0);

    assert_string_equal(fp1, fp2);
    assert_string_equal(text1, text2);
    assert_int_equal(st1.st_ino, st2.st_ino);
    free(fp1);
    free(fp2);
    free(text1);
    free(text2);
}

static void test_corrupt_file_is_replaced(void **state)
{
    struct fixture *f = *state;

    write_all(f->path, "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n"
                       "-----END PRIVATE KEY-----\n");
    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    EVP_PKEY *key = read_key(f->path);
    X509 *cert = read_cert(f->path);
    assert_int_equal(X509_check_private_key(cert, key), 1);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void test_empty_file_is_replaced(void **state)
{
    struct fixture *f = *state;

    write_all(f->path, "");
    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    char *fp = fingerprint(f->path);
    free(fp);
}

static void test_key_without_its_certificate_is_replaced(void **state)
{
    struct fixture *f = *state;
    char other[160];

    /* The key of one identity with the certificate of another. */
    snprintf(other, sizeof(other), "%s/other.pem", f->dir);
    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    assert_int_equal(tls_ensure_certificate(other, "host2"), 0);
    char *a = read_all(f->path);
    char *b = read_all(other);
    char *mixed = xasprintf("%.*s%s", (int)(strstr(a, "-----BEGIN CERTIFICATE-----") - a), a,
                            strstr(b, "-----BEGIN CERTIFICATE-----"));
    write_all(f->path, mixed);
    char *before = fingerprint(f->path);

    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    char *after = fingerprint(f->path);
    assert_string_not_equal(before, after);
    EVP_PKEY *key = read_key(f->path);
    X509 *cert = read_cert(f->path);
    assert_int_equal(X509_check_private_key(cert, key), 1);

    X509_free(cert);
    EVP_PKEY_free(key);
    free(before);
    free(after);
    free(mixed);
    free(a);
    free(b);
    unlink(other);
}

static void test_encrypted_key_is_replaced_without_prompting(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    EVP_PKEY *key = read_key(f->path);
    X509 *cert = read_cert(f->path);
    char *before = fingerprint(f->path);
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_PrivateKey(fp, key, EVP_aes_256_cbc(),
                                          (const unsigned char *)"secret", 6, NULL, NULL),
                     1);
    assert_int_equal(PEM_write_X509(fp, cert), 1);
    fclose(fp);

    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    char *after = fingerprint(f->path);
    assert_string_not_equal(before, after);
    char *text = read_all(f->path);
    assert_null(strstr(text, "ENCRYPTED"));

    free(text);
    free(before);
    free(after);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void test_no_temporary_file_is_left_behind(void **state)
{
    struct fixture *f = *state;
    char tmp[160];

    snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
    write_all(tmp, "left over from a crash");
    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_missing_directory_is_an_error(void **state)
{
    struct fixture *f = *state;
    char path[160];

    snprintf(path, sizeof(path), "%s/missing/xapi-ssl.pem", f->dir);
    assert_int_equal(tls_ensure_certificate(path, "host1"), -ENOENT);
}

static void test_fingerprint_is_upper_case_hex_pairs_joined_by_colons(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    char *fp = fingerprint(f->path);

    assert_int_equal(strlen(fp), 32 * 3 - 1);
    for (size_t i = 0; i < strlen(fp); i++) {
        if (i % 3 == 2)
            assert_int_equal(fp[i], ':');
        else
            assert_true(isxdigit((unsigned char)fp[i]) && !islower((unsigned char)fp[i]));
    }
    free(fp);
}

static void test_fingerprint_is_sha256_of_the_der_certificate(void **state)
{
    struct fixture *f = *state;
    unsigned char *der = NULL;
    unsigned char md[32];
    unsigned int n = 0;
    char expected[32 * 3];

    assert_int_equal(tls_ensure_certificate(f->path, "host1"), 0);
    X509 *cert = read_cert(f->path);
    int len = i2d_X509(cert, &der);
    assert_true(len > 0);
    assert_int_equal(EVP_Digest(der, (size_t)len, md, &n, EVP_sha256(), NULL), 1);
    assert_int_equal(n, 32);
    for (unsigned int i = 0; i < n; i++)
        snprintf(expected + i * 3, sizeof(expected) - i * 3, "%02X%s", md[i], i + 1 < n ? ":" : "");

    char *fp = fingerprint(f->path);
    assert_string_equal(fp, expected);
    free(fp);
    OPENSSL_free(der);
    X509_free(cert);
}

static void test_fingerprint_of_missing_file_is_enoent(void **state)
{
    struct fixture *f = *state;
    char *fp = NULL;

    assert_int_equal(tls_certificate_fingerprint(f->path, &fp), -ENOENT);
    assert_null(fp);
}

static void test_fingerprint_of_file_without_certificate_is_einval(void **state)
{
    struct fixture *f = *state;
    char *fp = NULL;

    write_all(f->path, "hello\n");
    assert_int_equal(tls_certificate_fingerprint(f->path, &fp), -EINVAL);
    assert_null(fp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_generation_creates_private_file_with_matching_key_and_cert),
        T(test_generation_ignores_umask),
        T(test_file_holds_pkcs8_key_then_certificate),
        T(test_key_is_ec_p256),
        T(test_certificate_names_hostname_localhost_and_loopback),
        T(test_ip_hostname_goes_into_an_ip_entry),
        T(test_long_hostname_is_in_alt_name_in_full),
        T(test_certificate_is_self_signed_v3_end_entity_with_sha256),
        T(test_validity_starts_a_day_back_and_lasts_ten_years),
        T(test_serial_is_random_and_positive),
        T(test_second_call_keeps_the_file),
        T(test_corrupt_file_is_replaced),
        T(test_empty_file_is_replaced),
        T(test_key_without_its_certificate_is_replaced),
        T(test_encrypted_key_is_replaced_without_prompting),
        T(test_no_temporary_file_is_left_behind),
        T(test_missing_directory_is_an_error),
        T(test_fingerprint_is_upper_case_hex_pairs_joined_by_colons),
        T(test_fingerprint_is_sha256_of_the_der_certificate),
        T(test_fingerprint_of_missing_file_is_enoent),
        T(test_fingerprint_of_file_without_certificate_is_einval),
#undef T
    };

    /* Generating and replacing files is logged at info and warning level;
     * the tests do both on purpose. */
    log_set_level("*", "err");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
