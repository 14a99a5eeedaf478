#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/hmac.h>
#include <openssl/err.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

/* TLS server engine (BastionCrypto/TLS): the SSL_CTX_* and SSL_OP_* settings below are
   macros in OpenSSL 3, which Swift cannot import; these wrappers are all that is used. */

static inline int bastion_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline int bastion_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}

static inline int bastion_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *groups) {
    return (int)SSL_CTX_set1_groups_list(ctx, groups);
}

/* No renegotiation (TLS 1.2), the server's cipher order, no compression (CRIME), and no
   resumption at all: no tickets (TLS 1.2 and 1.3) and no session cache, so every
   connection runs a full handshake with fresh ephemeral keys and presents its own
   client certificate. */
static inline void bastion_SSL_CTX_set_server_hardening(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

/* The DNS names among a certificate's subjectAltName entries, one at a time: index
   `i` of `count` (returns NULL for other kinds of name). `names` comes from
   X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL). */
static inline int bastion_general_names_count(const GENERAL_NAMES *names) {
    return sk_GENERAL_NAME_num(names);
}

static inline const ASN1_IA5STRING *bastion_general_name_dns(const GENERAL_NAMES *names, int i) {
    const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
    if (name == NULL || name->type != GEN_DNS) return NULL;
    return name->d.dNSName;
}

static inline void bastion_general_names_free(GENERAL_NAMES *names) {
    GENERAL_NAMES_free(names);
}
